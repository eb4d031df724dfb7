// The platform registry: platforms, their accounts, keys and enrollment tokens.
//
// Reads come from memory only, so the message path never waits for the disk. Changes are written
// to the store first and applied in memory when the store reports them durable; because the store
// completes mutations in submission order, memory always follows the disk in the same order.
//
// Thread-safety: everything, including the `done` callbacks, runs on the thread that owns the
// registry (the exchange's event loop); the store's completions are brought back there through the
// Executor given at construction.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/jwt.h"
#include "core/error.h"
#include "core/executor.h"
#include "core/identity.h"
#include "core/metrics.h"
#include "store/store.h"

namespace sb::registry {

struct Platform {
  std::string id;
  std::string name;
  std::string key_hash;
  auth::JwkSet keys;
  std::string offload_policy_json;
  std::int64_t created_ms = 0;
  std::map<std::string, bool, std::less<>> accounts;  // account -> discoverable; sorted for paging
};

struct Registration {
  std::string name;
  std::vector<store::AccountRecord> accounts;
  auth::JwkSet keys;
  std::string enrollment_token;  // empty when the operator registers
};

struct Registered {
  std::string platform_id;
  std::string name;
  std::string api_key;  // shown once, never stored
  std::size_t accounts = 0;
};

struct Enrollment {
  std::string token;  // shown once, never stored
  std::int64_t expires_ms = 0;
};

struct AccountChange {
  std::size_t added = 0;
  std::size_t removed = 0;
  std::size_t total = 0;
};

struct AccountPage {
  std::vector<store::AccountRecord> accounts;
  std::optional<std::string> next_cursor;
};

struct DirectoryEntry {
  std::string platform_id;
  std::string platform_name;
  std::string account;
};

// What a verified terminal token vouches for: the account, until when, and the platform key that
// signed it (so that a terminal can be dropped once its platform no longer trusts that key).
struct TerminalCredential {
  Address address;
  std::int64_t expires_s = 0;  // the token's `exp`, seconds since the Unix epoch
  std::array<std::uint8_t, 32> signing_key{};
};

// Told about removals that already happened, so that connected terminals can be dropped.
class RegistryObserver {
 public:
  virtual ~RegistryObserver() = default;
  virtual void OnPlatformDeregistered(const std::string& platform_id) = 0;
  virtual void OnAccountsRemoved(const std::string& platform_id,
                                 const std::vector<std::string>& accounts) = 0;
};

template <typename T>
using Done = std::function<void(Result<T>)>;

class Registry {
 public:
  Registry(store::Store& store, Executor loop, MetricsRegistry& metrics);

  // Seeds memory from the store's snapshot; call once before anything else.
  void Load(const store::Snapshot& snapshot);
  void SetObserver(RegistryObserver* observer) { observer_ = observer; }
  // Tolerance on a token's `exp` and `iat`, in seconds.
  void SetClockSkew(std::int64_t seconds) { clock_skew_s_ = seconds; }
  std::int64_t ClockSkew() const { return clock_skew_s_; }
  // The longest terminal token lifetime accepted (auth::TokenPolicy); 0: no bound.
  void SetMaxTokenLifetime(std::int64_t seconds) { max_token_lifetime_s_ = seconds; }

  // --- Reads ------------------------------------------------------------------------------------
  const Platform* Find(std::string_view platform_id) const;
  // The platform whose key this is, or null.
  const Platform* FindByKey(std::string_view api_key) const;
  bool HasAccount(const Address& address) const;
  // The display name of a platform, registered or deregistered (messages sent before a
  // deregistration are still delivered under their sender's name); empty when unknown.
  std::string_view PlatformName(std::string_view platform_id) const;
  std::size_t PlatformCount() const { return platforms_.size(); }

  // Verifies a terminal token: signature against the issuing platform's keys, times, and that
  // the account belongs to that platform. Codes: kBadToken, kTokenExpired,
  // kPlatformNotRegistered, kSenderNotRegistered.
  // A token whose lifetime is longer than SetMaxTokenLifetime allows is kBadToken.
  Result<Address> Authenticate(std::string_view token, std::int64_t now_ms) const;
  // As Authenticate, and also when the token expires and which key signed it.
  Result<TerminalCredential> AuthenticateTerminal(std::string_view token,
                                                  std::int64_t now_ms) const;
  // Whether `platform_id` is registered and `signing_key` is still in its key set.
  bool TrustsKey(std::string_view platform_id,
                 const std::array<std::uint8_t, 32>& signing_key) const;

  // The four-part check of a session message: sender platform and account, recipient platform and
  // account must all be registered. Codes: kSenderNotRegistered, kPlatformNotRegistered,
  // kRecipientNotRegistered.
  Status CheckParties(const Address& from, const Address& to) const;

  // Accounts of one platform in byte order, starting after `cursor`.
  AccountPage ListAccounts(const Platform& platform, std::string_view cursor,
                           std::size_t limit) const;
  // Discoverable accounts, optionally of one platform and with a prefix.
  std::vector<DirectoryEntry> Directory(std::string_view platform_id, std::string_view prefix,
                                        std::size_t limit) const;

  // Whether an enrollment token is known, unused and unexpired.
  bool IsEnrollmentUsable(std::string_view token, std::int64_t now_ms) const;

  // --- Changes (durable before `done` runs) ----------------------------------------------------
  void CreateEnrollment(std::string name, std::int64_t expires_in_s, Done<Enrollment> done);
  void Register(Registration registration, Done<Registered> done);
  void ChangeAccounts(const std::string& platform_id, std::vector<store::AccountRecord> add,
                      std::vector<std::string> remove, Done<AccountChange> done);
  void RotateKeys(const std::string& platform_id, auth::JwkSet keys, Done<Ok> done);
  void SetOffloadPolicy(const std::string& platform_id, std::string policy_json, Done<Ok> done);
  void Deregister(const std::string& platform_id, Done<Ok> done);

  // Drops expired enrollment tokens from memory (the store drops them on its own Expire).
  void ExpireEnrollments(std::int64_t now_ms);

 private:
  // Submits `mutation`; runs `apply` on the loop thread once it is durable, or reports failure.
  template <typename T>
  void Commit(store::Mutation mutation, std::function<Result<T>()> apply, Done<T> done);
  std::string AssignPlatformId(std::string_view name) const;

  store::Store& store_;
  Executor loop_;
  RegistryObserver* observer_ = nullptr;
  std::int64_t clock_skew_s_ = 60;
  std::int64_t max_token_lifetime_s_ = 0;

  std::map<std::string, std::unique_ptr<Platform>, std::less<>> platforms_;
  std::set<std::string, std::less<>> reserved_ids_;  // deregistered, or being registered
  std::map<std::string, std::string, std::less<>> retired_names_;  // deregistered id -> name
  std::unordered_map<std::string, std::string> platform_by_key_hash_;
  std::unordered_map<std::string, store::EnrollmentRecord> enrollments_;  // by token hash

  Counter& registrations_;
  Counter& deregistrations_;
  Gauge& platforms_gauge_;
  Gauge& accounts_gauge_;
};

}  // namespace sb::registry
