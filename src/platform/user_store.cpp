#include "platform/user_store.h"

#include <sqlite3.h>

#include <stdexcept>

#include "core/clock.h"

namespace sb::platform {
namespace {

constexpr char kSchema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS users ("
    "  account TEXT PRIMARY KEY,"
    "  password_hash TEXT NOT NULL,"
    "  discoverable INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL)";

// One prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) Fail("prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void Bind(int index, const std::string& text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void Bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

  // True while a row is available; throws on failure.
  bool Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) Fail("step");
    return false;
  }
  // Runs a statement that returns no rows; the result code, so callers can tell constraint hits.
  int Run() { return sqlite3_step(stmt_); }

  std::string Text(int column) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return text == nullptr ? std::string() : std::string(text);
  }
  std::int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }

  [[noreturn]] void Fail(const char* what) const {
    throw UserStoreError(std::string("users database: ") + what + ": " + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

UserStore::UserStore(const std::string& path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw UserStoreError("cannot open users database " + path + ": " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  char* error = nullptr;
  if (sqlite3_exec(db_, kSchema, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    sqlite3_close(db_);
    throw UserStoreError("cannot set up users database " + path + ": " + message);
  }
}

UserStore::~UserStore() {
  sqlite3_close(db_);
}

bool UserStore::Add(const std::string& account, const std::string& password_hash,
                    bool discoverable) {
  Statement insert(db_,
                   "INSERT INTO users (account, password_hash, discoverable, created_ms) "
                   "VALUES (?, ?, ?, ?)");
  insert.Bind(1, account);
  insert.Bind(2, password_hash);
  insert.Bind(3, std::int64_t{discoverable ? 1 : 0});
  insert.Bind(4, NowMillis());
  const int rc = insert.Run();
  if (rc == SQLITE_DONE) return true;
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return false;
  insert.Fail("insert");
}

bool UserStore::Remove(const std::string& account) {
  Statement remove(db_, "DELETE FROM users WHERE account = ?");
  remove.Bind(1, account);
  if (remove.Run() != SQLITE_DONE) remove.Fail("delete");
  return sqlite3_changes(db_) > 0;
}

std::optional<std::string> UserStore::PasswordHash(const std::string& account) {
  Statement select(db_, "SELECT password_hash FROM users WHERE account = ?");
  select.Bind(1, account);
  if (!select.Step()) return std::nullopt;
  return select.Text(0);
}

bool UserStore::Exists(const std::string& account) {
  return PasswordHash(account).has_value();
}

std::vector<User> UserStore::List() {
  Statement select(db_, "SELECT account, discoverable, created_ms FROM users ORDER BY account");
  std::vector<User> users;
  while (select.Step())
    users.push_back(User{select.Text(0), select.Int(1) != 0, select.Int(2)});
  return users;
}

}  // namespace sb::platform
