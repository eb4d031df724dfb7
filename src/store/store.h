// The exchange's durable state behind one narrow interface: everything is loaded once at start-up,
// and every change afterwards is a `Mutation` submitted to the store. The message path never reads
// from the store; it reads the in-memory registry and mailboxes that the snapshot seeded.
//
// Contract for implementations:
// - Mutations are applied in submission order and committed in batches (group commit): a batch is
//   one transaction, made durable before any of its completions runs.
// - A completion runs exactly once, on the store's own thread, with Ok once its mutation is
//   durable, or with kUnavailable when the batch could not be committed (disk full, read-only
//   folder, I/O error). A failed batch changes nothing.
// - Submit() is safe from any thread. After Close() returns, no completion runs any more.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/error.h"
#include "core/message.h"

namespace sb::store {

struct PlatformRecord {
  std::string id;
  std::string name;
  std::string key_hash;  // SHA-256 hex of the platform key; the key itself is never stored
  std::string jwks_json;
  std::string offload_policy_json;  // empty when the platform subscribed none
  std::int64_t created_ms = 0;
  std::int64_t deregistered_ms = 0;  // 0 while registered; the id stays reserved afterwards
};

struct AccountRecord {
  std::string account;
  bool discoverable = true;
};

struct EnrollmentRecord {
  std::string token_hash;
  std::string name;
  std::int64_t expires_ms = 0;
  std::int64_t used_ms = 0;  // 0 while unused
};

struct DeviceRecord {
  Address address;
  std::string device;
  std::int64_t last_seen_ms = 0;
};

// A message kept until every device of its recipient account has acknowledged it, or until it
// expires.
struct StoredMessage {
  SessionMessage message;
  std::int64_t expires_ms = 0;
  std::vector<std::string> acked_devices;  // only filled by Load()
};

// Remembers which message a sender's client id was given, so that a retried send is answered
// with the same message id.
struct DedupRecord {
  Address sender;
  std::string device;
  std::string client_id;
  std::string message_id;
  std::int64_t expires_ms = 0;
};

struct Snapshot {
  std::vector<PlatformRecord> platforms;                        // registered and deregistered
  std::vector<std::pair<std::string, AccountRecord>> accounts;  // (platform id, account)
  std::vector<EnrollmentRecord> enrollments;
  std::vector<DeviceRecord> devices;
  std::vector<StoredMessage> messages;  // in acceptance order
  // In the order written; a later record of a sender's client id replaces an earlier one.
  std::vector<DedupRecord> dedup;
};

// --- Mutations ---------------------------------------------------------------------------------

struct PutPlatform {
  PlatformRecord platform;
  std::vector<AccountRecord> accounts;
};
// Marks the platform deregistered and deletes its accounts, devices and the messages to them.
struct DeregisterPlatform {
  std::string id;
  std::int64_t at_ms = 0;
};
struct SetPlatformJwks {
  std::string id;
  std::string jwks_json;
};
struct SetPlatformPolicy {
  std::string id;
  std::string offload_policy_json;  // empty removes the policy
};
// Adds (or updates the discoverability of) and removes accounts; removing an account also deletes
// its devices and the messages waiting for it.
struct ChangeAccounts {
  std::string platform;
  std::vector<AccountRecord> add;
  std::vector<std::string> remove;
};
struct PutEnrollment {
  EnrollmentRecord enrollment;
};
struct UseEnrollment {
  std::string token_hash;
  std::int64_t used_ms = 0;
};
struct PutDevice {
  DeviceRecord device;
};
struct AppendMessage {
  StoredMessage message;
  std::int64_t dedup_expires_ms = 0;
};
struct AckMessage {
  std::string message_id;
  std::string device;
};
// Deletes messages (every device acknowledged them, or they expired) with their acks.
struct DeleteMessages {
  std::vector<std::string> message_ids;
};
// Deletes dedup records, devices and enrollments whose time has passed.
struct Expire {
  std::int64_t now_ms = 0;
  std::int64_t device_stale_before_ms = 0;
};

using Mutation = std::variant<PutPlatform, DeregisterPlatform, SetPlatformJwks, SetPlatformPolicy,
                              ChangeAccounts, PutEnrollment, UseEnrollment, PutDevice,
                              AppendMessage, AckMessage, DeleteMessages, Expire>;

using Completion = std::function<void(Status)>;

struct StoreStats {
  std::uint64_t commits = 0;
  std::uint64_t mutations = 0;
  std::uint64_t failed_batches = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Reads the whole durable state; called once, before any Submit(). Throws std::runtime_error
  // when the store cannot be read.
  virtual Snapshot Load() = 0;
  // Queues a mutation; `done` may be empty.
  virtual void Submit(Mutation mutation, Completion done) = 0;
  // Blocks until everything submitted before the call is committed (or failed).
  virtual void Flush() = 0;
  // Flushes, then stops the store's thread. Idempotent.
  virtual void Close() = 0;
  // Mutations submitted and not yet committed.
  virtual std::size_t QueueDepth() const = 0;
  // Whether a commit is synced to stable storage before its completions run. When false, Ok says
  // only that the change was handed to the operating system, which a power loss can undo.
  virtual bool SyncsCommits() const { return true; }
};

}  // namespace sb::store
