// Applies store mutations to the SQLite tables, one transaction per batch.
//
// Every statement is prepared once, in the constructor, and reused for every mutation: a batch of
// 100,000 account changes is then 100,000 steps of one compiled statement inside one transaction.
//
// Errors are sticky: the first failing statement records its message and every later statement
// of the batch is skipped, since the batch is rolled back as a whole anyway.
//
// Message deletions are deferred to the end of the batch and run as two set-based statements (the
// acks, then the messages), whatever the number of ids. A message that the batch both appends and
// deletes (accepted, delivered and acked by every device before the writer got to it) is never
// written: its insert, its acks and its delete are skipped. Its dedup record is still written, so
// that a retry after a restart gets the same message id. Dedup records are only appended, in
// acceptance order, and expire from the front: the exchange keeps its own index of them in memory.
// This is safe because a message is deleted only once nothing more is owed on it (every device
// acked, it expired, or its recipient is gone), and the batch commits or rolls back as a whole.
//
// Thread-safety: none; one thread (the store's writer) uses it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace sb::store {

class MutationWriter {
 public:
  // Prepares the statements on `db`, which must outlive the writer. Throws SqliteError.
  explicit MutationWriter(Database& db);

  // BEGIN IMMEDIATE; clears the error and the plan of the previous batch.
  void Begin();
  // Notes which messages `mutation` appends or deletes. Call it for every mutation of the batch,
  // after Begin() and before the first Apply(); the mutations must stay alive and unchanged until
  // Commit() returns (the plan refers to their ids).
  void Plan(const Mutation& mutation);
  void Apply(const Mutation& mutation);
  // Runs the deferred deletions, then commits when nothing failed, else (or when the commit fails)
  // rolls back. Returns whether the batch is durable; error() says why not.
  bool Commit();

  const std::string& error() const { return error_; }
  // Messages of the last batch that were appended and deleted in it, and so never written.
  std::size_t annihilated() const { return annihilated_; }

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

  void ExpireDedup(std::int64_t now_ms);
  void RemoveAccounts(const std::string& platform, const std::vector<std::string>& accounts);
  bool AppendedAndDeleted(std::string_view message_id) const;
  void DeferDelete(const std::string& message_id);
  void RunDeferredDeletes();
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

  // The plan of the current batch; the views point into its mutations. Sorted vectors rather than
  // hash sets: they keep their memory from batch to batch, so planning allocates nothing.
  bool Appended(std::string_view message_id) const;
  bool Deleted(std::string_view message_id) const;
  void SortPlan();
  std::vector<std::string_view> appended_;
  std::vector<std::string_view> deleted_;
  bool plan_sorted_ = true;
  std::string deferred_ids_json_;  // a JSON array of the message ids to delete at commit
  std::size_t annihilated_ = 0;

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
  Statement append_dedup_;
  Statement insert_ack_;
  Statement delete_message_acks_;
  Statement delete_message_;
  Statement delete_listed_acks_;
  Statement delete_listed_messages_;

  Statement expire_acks_;
  Statement expire_messages_;
  Statement first_live_dedup_;
  Statement expire_dedup_before_;
  Statement expire_all_dedup_;
  Statement expire_enrollments_;
  Statement expire_devices_;
};

}  // namespace sb::store
