// Thin RAII wrappers over the SQLite C API: a connection and a prepared statement.
//
// Thread-safety: a Database or Statement is used by one thread at a time; handing one to another
// thread needs a happens-before edge (starting the thread, or a lock). Statements must be
// destroyed before the Database that prepared them.
//
// Errors: opening, preparing and reading throw SqliteError (start-up and Load()). Writes report
// failure through their return value instead, so the writer can turn it into a failed batch.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

struct sqlite3;
struct sqlite3_stmt;

namespace sb::store {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class Database {
 public:
  // Opens `path` read-write, creating the file when absent.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements that return no rows of interest.
  void Exec(std::string_view sql);
  // True while no transaction is open.
  bool InAutocommit() const;
  std::string ErrorMessage() const;
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds `args` to parameters 1..n, runs the statement to completion and resets it for reuse.
  // Returns false on failure; error_message() then says why.
  template <typename... Args>
  bool Execute(const Args&... args) {
    BindAll(args...);
    return Finish();
  }

  // For queries: bind once, then read rows with NextRow() and the column getters. Throws
  // SqliteError when reading fails.
  template <typename... Args>
  void BindAll(const Args&... args) {
    Reset();
    int index = 0;
    (Bind(++index, args), ...);
  }
  bool NextRow();
  std::int64_t Int(int column) const;
  std::string Text(int column) const;
  bool Bool(int column) const { return Int(column) != 0; }
  void Reset();

  const std::string& error_message() const { return error_message_; }

 private:
  template <typename T>
  void Bind(int index, const T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      BindInt(index, value ? 1 : 0);
    } else if constexpr (std::is_integral_v<T>) {
      BindInt(index, static_cast<std::int64_t>(value));
    } else {
      BindText(index, std::string_view(value));
    }
  }
  void BindInt(int index, std::int64_t value);
  // The text must stay alive until the statement is reset: Execute() guarantees that.
  void BindText(int index, std::string_view value);
  bool Finish();
  void RecordError(int code);

  sqlite3_stmt* stmt_ = nullptr;
  int bind_code_ = 0;  // the first failed bind, reported by the next step
  std::string error_message_;
};

}  // namespace sb::store
