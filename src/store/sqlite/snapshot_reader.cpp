#include "store/sqlite/snapshot_reader.h"

#include <string>
#include <unordered_map>

namespace sb::store {
namespace {

std::vector<PlatformRecord> ReadPlatforms(Database& db) {
  Statement query(db,
                  "SELECT id, name, key_hash, jwks_json, offload_policy_json, created_ms,"
                  " deregistered_ms FROM platforms ORDER BY created_ms, id");
  std::vector<PlatformRecord> platforms;
  while (query.NextRow()) {
    platforms.push_back(PlatformRecord{query.Text(0), query.Text(1), query.Text(2), query.Text(3),
                                       query.Text(4), query.Int(5), query.Int(6)});
  }
  return platforms;
}

std::vector<std::pair<std::string, AccountRecord>> ReadAccounts(Database& db) {
  Statement query(db, "SELECT platform, account, discoverable FROM accounts");
  std::vector<std::pair<std::string, AccountRecord>> accounts;
  while (query.NextRow()) {
    accounts.emplace_back(query.Text(0), AccountRecord{query.Text(1), query.Bool(2)});
  }
  return accounts;
}

std::vector<EnrollmentRecord> ReadEnrollments(Database& db) {
  Statement query(db, "SELECT token_hash, name, expires_ms, used_ms FROM enrollments");
  std::vector<EnrollmentRecord> enrollments;
  while (query.NextRow()) {
    enrollments.push_back(
        EnrollmentRecord{query.Text(0), query.Text(1), query.Int(2), query.Int(3)});
  }
  return enrollments;
}

std::vector<DeviceRecord> ReadDevices(Database& db) {
  Statement query(db, "SELECT platform, account, device, last_seen_ms FROM devices");
  std::vector<DeviceRecord> devices;
  while (query.NextRow()) {
    devices.push_back(
        DeviceRecord{Address{query.Text(0), query.Text(1)}, query.Text(2), query.Int(3)});
  }
  return devices;
}

StoredMessage MessageFromRow(const Statement& row) {
  StoredMessage stored;
  SessionMessage& m = stored.message;
  m.message_id = row.Text(0);
  m.ts_ms = row.Int(1);
  m.from = Address{row.Text(2), row.Text(3)};
  m.to = Address{row.Text(4), row.Text(5)};
  m.from_device = row.Text(6);
  m.client_id = row.Text(7);
  m.content_json = row.Text(8);
  m.app = row.Text(9);
  m.route = Route{row.Text(10), row.Text(11), row.Text(12), row.Text(13)};
  stored.expires_ms = row.Int(14);
  return stored;
}

std::vector<StoredMessage> ReadMessages(Database& db) {
  // `seq` is the acceptance order.
  Statement query(db,
                  "SELECT message_id, ts_ms, from_platform, from_account, to_platform,"
                  " to_account, from_device, client_id, content_json, app, route_site,"
                  " route_dnai, route_ulcl, route_psa, expires_ms FROM messages ORDER BY seq");
  std::vector<StoredMessage> messages;
  while (query.NextRow()) {
    messages.push_back(MessageFromRow(query));
  }
  return messages;
}

void AttachAcks(Database& db, std::vector<StoredMessage>& messages) {
  std::unordered_map<std::string, StoredMessage*> by_id;
  by_id.reserve(messages.size());
  for (StoredMessage& m : messages) {
    by_id.emplace(m.message.message_id, &m);
  }

  Statement query(db, "SELECT message_id, device FROM message_acks ORDER BY message_id, device");
  while (query.NextRow()) {
    auto it = by_id.find(query.Text(0));
    if (it != by_id.end()) {
      it->second->acked_devices.push_back(query.Text(1));
    }
  }
}

std::vector<DedupRecord> ReadDedup(Database& db) {
  Statement query(db,
                  "SELECT platform, account, device, client_id, message_id, expires_ms FROM dedup"
                  " ORDER BY seq");
  std::vector<DedupRecord> dedup;
  while (query.NextRow()) {
    dedup.push_back(DedupRecord{Address{query.Text(0), query.Text(1)}, query.Text(2), query.Text(3),
                                query.Text(4), query.Int(5)});
  }
  return dedup;
}

}  // namespace

Snapshot ReadSnapshot(Database& db) {
  db.Exec("BEGIN");
  Snapshot snapshot;
  snapshot.platforms = ReadPlatforms(db);
  snapshot.accounts = ReadAccounts(db);
  snapshot.enrollments = ReadEnrollments(db);
  snapshot.devices = ReadDevices(db);
  snapshot.messages = ReadMessages(db);
  AttachAcks(db, snapshot.messages);
  snapshot.dedup = ReadDedup(db);
  db.Exec("COMMIT");
  return snapshot;
}

}  // namespace sb::store
