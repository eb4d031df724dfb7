#include "store/sqlite/sqlite_db.h"

#include <sqlite3.h>

namespace sb::store {
namespace {

[[noreturn]] void Throw(sqlite3* db, int code, std::string_view doing) {
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  throw SqliteError(code, std::string(doing) + ": " + message);
}

}  // namespace

Database::Database(const std::string& path) {
  // NOMUTEX: each connection is confined to one thread at a time (see the header), so SQLite's
  // own per-connection lock would only cost time.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int code = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (code != SQLITE_OK) {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(code);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(code, "cannot open " + path + ": " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Database::~Database() {
  sqlite3_close_v2(db_);
}

void Database::Exec(std::string_view sql) {
  const std::string text(sql);
  const int code = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (code != SQLITE_OK) {
    Throw(db_, code, text);
  }
}

bool Database::InAutocommit() const {
  return sqlite3_get_autocommit(db_) != 0;
}

std::string Database::ErrorMessage() const {
  return sqlite3_errmsg(db_);
}

Statement::Statement(Database& db, std::string_view sql) {
  const int code = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (code != SQLITE_OK) {
    Throw(db.handle(), code, "cannot prepare " + std::string(sql));
  }
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

bool Statement::NextRow() {
  const int code = sqlite3_step(stmt_);
  if (code == SQLITE_ROW) {
    return true;
  }
  if (code != SQLITE_DONE) {
    Throw(sqlite3_db_handle(stmt_), code, sqlite3_sql(stmt_));
  }
  return false;
}

std::int64_t Statement::Int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return text != nullptr ? std::string(text, static_cast<std::size_t>(size)) : std::string();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_code_ = SQLITE_OK;
}

void Statement::BindInt(int index, std::int64_t value) {
  const int code = sqlite3_bind_int64(stmt_, index, value);
  if (bind_code_ == SQLITE_OK) {
    bind_code_ = code;
  }
}

void Statement::BindText(int index, std::string_view value) {
  // A null pointer would bind SQL NULL, which the NOT NULL columns refuse; an empty string is
  // what the caller meant.
  const char* data = value.data() != nullptr ? value.data() : "";
  const int code =
      sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (bind_code_ == SQLITE_OK) {
    bind_code_ = code;
  }
}

bool Statement::Finish() {
  int code = bind_code_ != SQLITE_OK ? bind_code_ : sqlite3_step(stmt_);
  while (code == SQLITE_ROW) {
    code = sqlite3_step(stmt_);
  }
  if (code != SQLITE_DONE) {
    RecordError(code);
  }

  // Reset at once: the bound text belongs to the caller and must not be referenced afterwards.
  Reset();
  return code == SQLITE_DONE;
}

void Statement::RecordError(int code) {
  error_message_ = std::string(sqlite3_errstr(code)) + " (" +
                   sqlite3_errmsg(sqlite3_db_handle(stmt_)) + ") in: " + sqlite3_sql(stmt_);
}

}  // namespace sb::store
