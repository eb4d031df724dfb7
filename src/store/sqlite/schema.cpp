#include "store/sqlite/schema.h"

#include <string>

namespace sb::store {
namespace {

// Messages keep an integer `seq` (the rowid) so that Load() returns them in acceptance order:
// message ids are opaque and do not sort that way. Foreign keys are not declared: every cascade
// is written out in the mutation that causes it, which keeps each delete's cost visible and lets
// an acknowledgement that races a delete be dropped instead of failing its whole batch.
constexpr const char* kCreateTables = R"sql(
CREATE TABLE IF NOT EXISTS platforms (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  jwks_json TEXT NOT NULL,
  offload_policy_json TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  deregistered_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS accounts (
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  discoverable INTEGER NOT NULL,
  PRIMARY KEY (platform, account)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS enrollments (
  token_hash TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  expires_ms INTEGER NOT NULL,
  used_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS devices (
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  device TEXT NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (platform, account, device)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS devices_by_last_seen ON devices (last_seen_ms);

CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL UNIQUE,
  ts_ms INTEGER NOT NULL,
  from_platform TEXT NOT NULL,
  from_account TEXT NOT NULL,
  to_platform TEXT NOT NULL,
  to_account TEXT NOT NULL,
  from_device TEXT NOT NULL,
  client_id TEXT NOT NULL,
  content_json TEXT NOT NULL,
  app TEXT NOT NULL,
  route_site TEXT NOT NULL,
  route_dnai TEXT NOT NULL,
  route_ulcl TEXT NOT NULL,
  route_psa TEXT NOT NULL,
  expires_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_recipient ON messages (to_platform, to_account);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages (expires_ms);

CREATE TABLE IF NOT EXISTS message_acks (
  message_id TEXT NOT NULL,
  device TEXT NOT NULL,
  PRIMARY KEY (message_id, device)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS dedup (
  seq INTEGER PRIMARY KEY,
  platform TEXT NOT NULL,
  account TEXT NOT NULL,
  device TEXT NOT NULL,
  client_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  expires_ms INTEGER NOT NULL
);
)sql";

// Version 1 kept dedup records under their key, with an index by expiry: two B-tree inserts with
// text keys per message. Version 2 appends them in acceptance order (the exchange looks them up
// in memory, never here) and expires them from the front. The old table steps aside before
// kCreateTables makes the new one, and its records move over after.
constexpr const char* kSetAsideVersion1Dedup = R"sql(
ALTER TABLE dedup RENAME TO dedup_version1;
DROP INDEX IF EXISTS dedup_by_expiry;
)sql";
constexpr const char* kMoveVersion1Dedup = R"sql(
INSERT INTO dedup (platform, account, device, client_id, message_id, expires_ms)
  SELECT platform, account, device, client_id, message_id, expires_ms FROM dedup_version1
  ORDER BY expires_ms;
DROP TABLE dedup_version1;
)sql";

std::int64_t ReadUserVersion(Database& db) {
  Statement query(db, "PRAGMA user_version");
  return query.NextRow() ? query.Int(0) : 0;
}

}  // namespace

void PrepareSchema(Database& db) {
  const std::int64_t version = ReadUserVersion(db);
  if (version > kSchemaVersion) {
    throw std::runtime_error("store schema version " + std::to_string(version) +
                             " is newer than this exchange understands (" +
                             std::to_string(kSchemaVersion) + ")");
  }

  // One transaction, so that a crash mid-way leaves either no schema or a whole one.
  db.Exec("BEGIN IMMEDIATE");
  try {
    if (version == 1) db.Exec(kSetAsideVersion1Dedup);
    db.Exec(kCreateTables);
    if (version == 1) db.Exec(kMoveVersion1Dedup);
    db.Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    db.Exec("COMMIT");
  } catch (...) {
    if (!db.InAutocommit()) {
      db.Exec("ROLLBACK");
    }
    throw;
  }
}

}  // namespace sb::store
