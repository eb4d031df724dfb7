#include "store/sqlite/mutation_writer.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <variant>

namespace sb::store {
namespace {

// Removing accounts one by one costs four statements per account; collecting them in a
// per-connection temporary table turns that into one insert per account plus four set-based
// deletes, which matters when a platform drops 100,000 accounts at once.
// The table must exist before the statements that use it are prepared.
Database& WithScratchTables(Database& db) {
  db.Exec(
      "CREATE TEMP TABLE IF NOT EXISTS removed_accounts (account TEXT PRIMARY KEY)"
      " WITHOUT ROWID");
  return db;
}

}  // namespace

MutationWriter::MutationWriter(Database& db)
    : db_(WithScratchTables(db)),
      begin_(db, "BEGIN IMMEDIATE"),
      commit_(db, "COMMIT"),
      rollback_(db, "ROLLBACK"),
      upsert_platform_(db,
                       "INSERT INTO platforms (id, name, key_hash, jwks_json, offload_policy_json,"
                       " created_ms, deregistered_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                       " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                       " key_hash = excluded.key_hash, jwks_json = excluded.jwks_json,"
                       " offload_policy_json = excluded.offload_policy_json,"
                       " created_ms = excluded.created_ms,"
                       " deregistered_ms = excluded.deregistered_ms"),
      deregister_platform_(db, "UPDATE platforms SET deregistered_ms = ?2 WHERE id = ?1"),
      set_jwks_(db, "UPDATE platforms SET jwks_json = ?2 WHERE id = ?1"),
      set_policy_(db, "UPDATE platforms SET offload_policy_json = ?2 WHERE id = ?1"),
      delete_platform_accounts_(db, "DELETE FROM accounts WHERE platform = ?1"),
      delete_platform_devices_(db, "DELETE FROM devices WHERE platform = ?1"),
      delete_platform_acks_(db,
                            "DELETE FROM message_acks WHERE message_id IN"
                            " (SELECT message_id FROM messages WHERE to_platform = ?1)"),
      delete_platform_messages_(db, "DELETE FROM messages WHERE to_platform = ?1"),
      // Dedup records carry no index but their order: a platform leaving costs a scan of them.
      delete_platform_dedup_(db, "DELETE FROM dedup WHERE platform = ?1"),
      upsert_account_(db,
                      "INSERT INTO accounts (platform, account, discoverable) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT (platform, account)"
                      " DO UPDATE SET discoverable = excluded.discoverable"),
      add_removed_(db, "INSERT OR IGNORE INTO temp.removed_accounts (account) VALUES (?1)"),
      delete_removed_acks_(db,
                           "DELETE FROM message_acks WHERE message_id IN (SELECT message_id"
                           " FROM messages WHERE to_platform = ?1 AND to_account IN"
                           " (SELECT account FROM temp.removed_accounts))"),
      delete_removed_messages_(db,
                               "DELETE FROM messages WHERE to_platform = ?1 AND to_account IN"
                               " (SELECT account FROM temp.removed_accounts)"),
      delete_removed_devices_(db,
                              "DELETE FROM devices WHERE platform = ?1 AND account IN"
                              " (SELECT account FROM temp.removed_accounts)"),
      delete_removed_accounts_(db,
                               "DELETE FROM accounts WHERE platform = ?1 AND account IN"
                               " (SELECT account FROM temp.removed_accounts)"),
      clear_removed_(db, "DELETE FROM temp.removed_accounts"),
      put_enrollment_(db,
                      "INSERT OR REPLACE INTO enrollments (token_hash, name, expires_ms, used_ms)"
                      " VALUES (?1, ?2, ?3, ?4)"),
      use_enrollment_(db, "UPDATE enrollments SET used_ms = ?2 WHERE token_hash = ?1"),
      upsert_device_(db,
                     "INSERT INTO devices (platform, account, device, last_seen_ms)"
                     " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (platform, account, device)"
                     " DO UPDATE SET last_seen_ms = excluded.last_seen_ms"),
      insert_message_(db,
                      "INSERT INTO messages (message_id, ts_ms, from_platform, from_account,"
                      " to_platform, to_account, from_device, client_id, content_json, app,"
                      " route_site, route_dnai, route_ulcl, route_psa, expires_ms)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
      append_dedup_(db,
                    "INSERT INTO dedup (platform, account, device, client_id, message_id,"
                    " expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
      // An acknowledgement can arrive after its message was deleted (every other device had
      // acknowledged, or it expired); it is then dropped rather than left behind unowned.
      insert_ack_(db,
                  "INSERT OR IGNORE INTO message_acks (message_id, device) SELECT ?1, ?2"
                  " WHERE EXISTS (SELECT 1 FROM messages WHERE message_id = ?1)"),
      delete_message_acks_(db, "DELETE FROM message_acks WHERE message_id = ?1"),
      delete_message_(db, "DELETE FROM messages WHERE message_id = ?1"),
      // ?1 is a JSON array of message ids: one statement per batch, whatever its size.
      delete_listed_acks_(db,
                          "DELETE FROM message_acks WHERE message_id IN"
                          " (SELECT value FROM json_each(?1))"),
      delete_listed_messages_(db,
                              "DELETE FROM messages WHERE message_id IN"
                              " (SELECT value FROM json_each(?1))"),
      // An expiry of 0 is read as "none": a record written without one is kept rather than
      // dropped by the first Expire.
      expire_acks_(db,
                   "DELETE FROM message_acks WHERE message_id IN (SELECT message_id FROM messages"
                   " WHERE expires_ms > 0 AND expires_ms <= ?1)"),
      expire_messages_(db, "DELETE FROM messages WHERE expires_ms > 0 AND expires_ms <= ?1"),
      // Dedup records are appended in acceptance order, so the expired ones are a prefix: they go
      // up to the first that is still live, found by a walk from the front that stops there.
      first_live_dedup_(db, "SELECT seq FROM dedup WHERE expires_ms > ?1 ORDER BY seq LIMIT 1"),
      expire_dedup_before_(db, "DELETE FROM dedup WHERE seq < ?1 AND expires_ms > 0"),
      expire_all_dedup_(db, "DELETE FROM dedup WHERE expires_ms > 0 AND expires_ms <= ?1"),
      expire_enrollments_(db, "DELETE FROM enrollments WHERE expires_ms > 0 AND expires_ms <= ?1"),
      expire_devices_(db, "DELETE FROM devices WHERE last_seen_ms < ?1") {}

void MutationWriter::Begin() {
  failed_ = false;
  error_.clear();
  appended_.clear();
  deleted_.clear();
  deferred_ids_json_.clear();
  annihilated_ = 0;
  Run(begin_);
}

void MutationWriter::Plan(const Mutation& mutation) {
  if (const auto* append = std::get_if<AppendMessage>(&mutation)) {
    appended_.push_back(append->message.message.message_id);
    plan_sorted_ = false;
  } else if (const auto* deletion = std::get_if<DeleteMessages>(&mutation)) {
    deleted_.insert(deleted_.end(), deletion->message_ids.begin(), deletion->message_ids.end());
    plan_sorted_ = false;
  }
}

void MutationWriter::SortPlan() {
  std::sort(appended_.begin(), appended_.end());
  std::sort(deleted_.begin(), deleted_.end());
  plan_sorted_ = true;
}

bool MutationWriter::Appended(std::string_view message_id) const {
  return std::binary_search(appended_.begin(), appended_.end(), message_id);
}

bool MutationWriter::Deleted(std::string_view message_id) const {
  return std::binary_search(deleted_.begin(), deleted_.end(), message_id);
}

void MutationWriter::Apply(const Mutation& mutation) {
  if (!plan_sorted_) SortPlan();
  std::visit([this](const auto& m) { Write(m); }, mutation);
}

bool MutationWriter::Commit() {
  RunDeferredDeletes();
  Run(commit_);
  if (failed_) {
    Rollback();
  }
  return !failed_;
}

void MutationWriter::Rollback() {
  // Some errors (a full disk, an I/O error) make SQLite roll the transaction back by itself.
  if (db_.InAutocommit()) {
    return;
  }
  if (!rollback_.Execute()) {
    error_ += "; rollback failed: " + rollback_.error_message();
  }
}

void MutationWriter::Write(const PutPlatform& m) {
  const PlatformRecord& p = m.platform;
  Run(upsert_platform_, p.id, p.name, p.key_hash, p.jwks_json, p.offload_policy_json, p.created_ms,
      p.deregistered_ms);
  for (const AccountRecord& a : m.accounts) {
    Run(upsert_account_, p.id, a.account, a.discoverable);
  }
}

void MutationWriter::Write(const DeregisterPlatform& m) {
  Run(deregister_platform_, m.id, m.at_ms);

  // Acknowledgements first: they are found through the messages about to be deleted.
  Run(delete_platform_acks_, m.id);
  Run(delete_platform_messages_, m.id);
  Run(delete_platform_devices_, m.id);
  Run(delete_platform_accounts_, m.id);
  Run(delete_platform_dedup_, m.id);
}

void MutationWriter::Write(const SetPlatformJwks& m) {
  Run(set_jwks_, m.id, m.jwks_json);
}

void MutationWriter::Write(const SetPlatformPolicy& m) {
  Run(set_policy_, m.id, m.offload_policy_json);
}

void MutationWriter::Write(const ChangeAccounts& m) {
  for (const AccountRecord& a : m.add) {
    Run(upsert_account_, m.platform, a.account, a.discoverable);
  }
  if (!m.remove.empty()) {
    RemoveAccounts(m.platform, m.remove);
  }
}

void MutationWriter::RemoveAccounts(const std::string& platform,
                                    const std::vector<std::string>& accounts) {
  // Cleared first as well as last, so that no leftover of an earlier failure can widen the delete.
  Run(clear_removed_);
  for (const std::string& account : accounts) {
    Run(add_removed_, account);
  }

  // Acknowledgements first: they are found through the messages about to be deleted.
  Run(delete_removed_acks_, platform);
  Run(delete_removed_messages_, platform);
  Run(delete_removed_devices_, platform);
  Run(delete_removed_accounts_, platform);
  Run(clear_removed_);
}

void MutationWriter::Write(const PutEnrollment& m) {
  const EnrollmentRecord& e = m.enrollment;
  Run(put_enrollment_, e.token_hash, e.name, e.expires_ms, e.used_ms);
}

void MutationWriter::Write(const UseEnrollment& m) {
  Run(use_enrollment_, m.token_hash, m.used_ms);
}

void MutationWriter::Write(const PutDevice& m) {
  const DeviceRecord& d = m.device;
  Run(upsert_device_, d.address.platform, d.address.account, d.device, d.last_seen_ms);
}

bool MutationWriter::AppendedAndDeleted(std::string_view message_id) const {
  return Deleted(message_id) && Appended(message_id);
}

void MutationWriter::Write(const AppendMessage& m) {
  const SessionMessage& s = m.message.message;
  if (AppendedAndDeleted(s.message_id)) {
    ++annihilated_;
  } else {
    Run(insert_message_, s.message_id, s.ts_ms, s.from.platform, s.from.account, s.to.platform,
        s.to.account, s.from_device, s.client_id, s.content_json, s.app, s.route.site, s.route.dnai,
        s.route.ulcl, s.route.psa, m.message.expires_ms);
  }

  // Without a client id there is nothing a retry could be matched by. An append at the end of the
  // table, even when the message itself is annihilated.
  if (!s.client_id.empty()) {
    Run(append_dedup_, s.from.platform, s.from.account, s.from_device, s.client_id, s.message_id,
        m.dedup_expires_ms);
  }
}

void MutationWriter::Write(const AckMessage& m) {
  // The deferred delete of this batch would remove the ack again.
  if (Deleted(m.message_id)) {
    return;
  }
  Run(insert_ack_, m.message_id, m.device);
}

void MutationWriter::Write(const DeleteMessages& m) {
  for (const std::string& id : m.message_ids) {
    if (!AppendedAndDeleted(id)) {
      DeferDelete(id);
    }
  }
}

void MutationWriter::DeferDelete(const std::string& message_id) {
  // Ids that would need escaping inside a JSON string (never the exchange's hex ids) are deleted
  // one by one instead.
  const bool plain = std::none_of(message_id.begin(), message_id.end(), [](char c) {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
  if (!plain) {
    Run(delete_message_acks_, message_id);
    Run(delete_message_, message_id);
    return;
  }
  deferred_ids_json_.push_back(deferred_ids_json_.empty() ? '[' : ',');
  deferred_ids_json_.append(1, '"').append(message_id).append(1, '"');
}

void MutationWriter::RunDeferredDeletes() {
  if (deferred_ids_json_.empty()) {
    return;
  }
  deferred_ids_json_.push_back(']');
  // Acknowledgements first, as everywhere: they belong to the messages about to be deleted.
  Run(delete_listed_acks_, deferred_ids_json_);
  Run(delete_listed_messages_, deferred_ids_json_);
  deferred_ids_json_.clear();
}

void MutationWriter::Write(const Expire& m) {
  Run(expire_acks_, m.now_ms);
  Run(expire_messages_, m.now_ms);
  ExpireDedup(m.now_ms);
  Run(expire_enrollments_, m.now_ms);
  Run(expire_devices_, m.device_stale_before_ms);
}

// Records whose window was shortened after later ones were written wait for those to expire.
void MutationWriter::ExpireDedup(std::int64_t now_ms) {
  if (failed_) return;
  std::optional<std::int64_t> first_live;
  try {
    first_live_dedup_.BindAll(now_ms);
    if (first_live_dedup_.NextRow()) first_live = first_live_dedup_.Int(0);
    first_live_dedup_.Reset();
  } catch (const std::exception& e) {
    first_live_dedup_.Reset();
    failed_ = true;
    error_ = e.what();
    return;
  }
  if (first_live) {
    Run(expire_dedup_before_, *first_live);
  } else {
    Run(expire_all_dedup_, now_ms);
  }
}

}  // namespace sb::store
