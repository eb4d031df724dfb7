// Applies store mutations to the SQLite tables, one transaction per batch.
//
// Every statement is prepared once, in the constructor, and reused for every mutation: a batch of
// 100,000 account changes is then 100,000 steps of one compiled statement inside one transaction.
//
// Errors are sticky: the first failing statement records its message and every later statement
// of the batch is skipped, since the batch is rolled back as a whole anyway.
//
// Thread-safety: none; one thread (the store's writer) uses it.
#pragma once

#include <string>
#include <vector>

#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace sb::store {

class MutationWriter {
 public:
  // Prepares the statements on `db`, which must outlive the writer. Throws SqliteError.
  explicit MutationWriter(Database& db);

  // BEGIN IMMEDIATE; clears the error of the previous batch.
  void Begin();
  void Apply(const Mutation& mutation);
  // Commits when nothing failed, else (or when the commit fails) rolls back. Returns whether the
  // batch is durable; error() says why not.
  bool Commit();

  const std::string& error() const { return error_; }

 private:
  void Write(const PutPlatform& m);
  void Write(const DeregisterPlatform& m);
  void Write(const SetPlatformJwks& m);
  void Write(const SetPlatformPolicy& m);
  void Write(const ChangeAccounts& m);
  void Write(const PutEnrollment& m);
  void Write(const UseEnrollment& m);
  void Write(const PutDevice& m);
  void Write(const AppendMessage& m);
  void Write(const AckMessage& m);
  void Write(const DeleteMessages& m);
  void Write(const Expire& m);

  void RemoveAccounts(const std::string& platform, const std::vector<std::string>& accounts);
  void Rollback();

  // Runs one statement unless the batch has already failed.
  template <typename... Args>
  void Run(Statement& statement, const Args&... args) {
    if (failed_) {
      return;
    }
    if (!statement.Execute(args...)) {
      failed_ = true;
      error_ = statement.error_message();
    }
  }

  Database& db_;
  bool failed_ = false;
  std::string error_;

  Statement begin_;
  Statement commit_;
  Statement rollback_;

  Statement upsert_platform_;
  Statement deregister_platform_;
  Statement set_jwks_;
  Statement set_policy_;
  Statement delete_platform_accounts_;
  Statement delete_platform_devices_;
  Statement delete_platform_acks_;
  Statement delete_platform_messages_;
  Statement delete_platform_dedup_;

  Statement upsert_account_;
  Statement add_removed_;
  Statement delete_removed_acks_;
  Statement delete_removed_messages_;
  Statement delete_removed_devices_;
  Statement delete_removed_accounts_;
  Statement clear_removed_;

  Statement put_enrollment_;
  Statement use_enrollment_;
  Statement upsert_device_;

  Statement insert_message_;
  Statement upsert_dedup_;
  Statement insert_ack_;
  Statement delete_message_acks_;
  Statement delete_message_;

  Statement expire_acks_;
  Statement expire_messages_;
  Statement expire_dedup_;
  Statement expire_enrollments_;
  Statement expire_devices_;
};

}  // namespace sb::store
