// The platform's own users, in SQLite (<data>/users.db): account, password hash, whether the
// account is listed in the exchange's directory, and when it was created.
//
// Thread-safety: none. One thread at a time uses a UserStore (the platform's worker thread once
// serving starts); handing it over needs a happens-before edge.
//
// Errors: every call throws UserStoreError when SQLite fails (a full or broken disk); callers
// answer it as an internal error.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct sqlite3;

namespace sb::platform {

class UserStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct User {
  std::string account;
  bool discoverable = true;
  std::int64_t created_ms = 0;
};

class UserStore {
 public:
  // Opens or creates the database at `path` and its table.
  explicit UserStore(const std::string& path);
  ~UserStore();
  UserStore(const UserStore&) = delete;
  UserStore& operator=(const UserStore&) = delete;

  // Adds a user; false when the account exists already.
  bool Add(const std::string& account, const std::string& password_hash, bool discoverable);
  // Removes a user; false when there was none.
  bool Remove(const std::string& account);
  // The stored password hash of `account`, or nullopt when there is no such user.
  std::optional<std::string> PasswordHash(const std::string& account);
  bool Exists(const std::string& account);
  // Every user, ordered by account.
  std::vector<User> List();

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace sb::platform
