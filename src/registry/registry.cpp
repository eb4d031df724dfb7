#include "registry/registry.h"

#include <spdlog/spdlog.h>

#include "auth/secret.h"
#include "core/clock.h"

namespace sb::registry {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = [] {
    auto l = spdlog::get("registry");
    return l ? l : spdlog::default_logger()->clone("registry");
  }();
  return logger;
}

Error Unavailable() {
  return MakeError(ErrorCode::kUnavailable, "the exchange could not store the change; retry");
}

}  // namespace

Registry::Registry(store::Store& store, Executor loop, MetricsRegistry& metrics)
    : store_(store),
      loop_(std::move(loop)),
      registrations_(
          metrics.GetCounter("switchboard_platform_registrations_total", "Platforms registered")),
      deregistrations_(metrics.GetCounter("switchboard_platform_deregistrations_total",
                                          "Platforms deregistered")),
      platforms_gauge_(metrics.GetGauge("switchboard_platforms", "Registered platforms")),
      accounts_gauge_(metrics.GetGauge("switchboard_accounts", "Registered accounts")) {}

void Registry::Load(const store::Snapshot& snapshot) {
  for (const auto& record : snapshot.platforms) {
    reserved_ids_.insert(record.id);
    if (record.deregistered_ms != 0) {
      retired_names_[record.id] = record.name;
      continue;
    }

    auto platform = std::make_unique<Platform>();
    platform->id = record.id;
    platform->name = record.name;
    platform->key_hash = record.key_hash;
    platform->offload_policy_json = record.offload_policy_json;
    platform->created_ms = record.created_ms;
    auto keys = auth::JwkSet::Parse(record.jwks_json);
    if (keys) {
      platform->keys = std::move(keys).value();
    } else {
      Log()->error("platform {}: stored key set unreadable: {}", record.id, keys.error().message);
    }
    platform_by_key_hash_[record.key_hash] = record.id;
    platforms_.emplace(record.id, std::move(platform));
  }
  std::size_t accounts = 0;
  for (const auto& [platform_id, account] : snapshot.accounts) {
    auto it = platforms_.find(platform_id);
    if (it == platforms_.end()) continue;
    it->second->accounts[account.account] = account.discoverable;
    ++accounts;
  }
  for (const auto& enrollment : snapshot.enrollments) {
    enrollments_[enrollment.token_hash] = enrollment;
  }
  platforms_gauge_.Set(static_cast<std::int64_t>(platforms_.size()));
  accounts_gauge_.Set(static_cast<std::int64_t>(accounts));
  Log()->info("loaded {} platforms with {} accounts", platforms_.size(), accounts);
}

// --- Reads ---------------------------------------------------------------------------------------

const Platform* Registry::Find(std::string_view platform_id) const {
  auto it = platforms_.find(platform_id);
  return it == platforms_.end() ? nullptr : it->second.get();
}

const Platform* Registry::FindByKey(std::string_view api_key) const {
  // Looking up the hash, not the key, keeps the comparison of secrets out of the timing.
  auto it = platform_by_key_hash_.find(auth::Sha256Hex(api_key));
  return it == platform_by_key_hash_.end() ? nullptr : Find(it->second);
}

std::string_view Registry::PlatformName(std::string_view platform_id) const {
  if (const Platform* platform = Find(platform_id)) return platform->name;
  auto retired = retired_names_.find(platform_id);
  return retired == retired_names_.end() ? std::string_view() : std::string_view(retired->second);
}

bool Registry::HasAccount(const Address& address) const {
  const Platform* platform = Find(address.platform);
  return platform != nullptr && platform->accounts.count(address.account) != 0;
}

Result<Address> Registry::Authenticate(std::string_view token, std::int64_t now_ms) const {
  auto credential = AuthenticateTerminal(token, now_ms);
  if (!credential) return credential.error();
  return std::move(credential).value().address;
}

Result<TerminalCredential> Registry::AuthenticateTerminal(std::string_view token,
                                                          std::int64_t now_ms) const {
  auto parsed = auth::ParseToken(token);
  if (!parsed) return parsed.error();

  const auto& claims = parsed.value().claims;
  const Platform* platform = Find(claims.iss);
  if (platform == nullptr) {
    return MakeError(ErrorCode::kPlatformNotRegistered,
                     "the token's issuer is not a registered platform");
  }
  auto key = auth::VerifyTokenKey(parsed.value(), platform->keys, now_ms / 1000,
                                  auth::TokenPolicy{clock_skew_s_, max_token_lifetime_s_});
  if (!key) return key.error();
  if (platform->accounts.count(claims.sub) == 0) {
    return MakeError(ErrorCode::kSenderNotRegistered,
                     "the token's account is not registered by its platform");
  }
  return TerminalCredential{Address{claims.iss, claims.sub}, claims.exp, key.value().x};
}

bool Registry::TrustsKey(std::string_view platform_id,
                         const std::array<std::uint8_t, 32>& signing_key) const {
  const Platform* platform = Find(platform_id);
  return platform != nullptr && auth::ContainsKey(platform->keys, auth::Jwk{{}, signing_key});
}

Status Registry::CheckParties(const Address& from, const Address& to) const {
  if (!HasAccount(from)) {
    return MakeError(ErrorCode::kSenderNotRegistered, "the sender is not registered");
  }
  const Platform* recipient_platform = Find(to.platform);
  if (recipient_platform == nullptr) {
    return MakeError(ErrorCode::kPlatformNotRegistered,
                     "the recipient platform '" + to.platform + "' is not registered");
  }
  if (recipient_platform->accounts.count(to.account) == 0) {
    return MakeError(ErrorCode::kRecipientNotRegistered,
                     "the recipient account is not registered on platform '" + to.platform + "'");
  }
  return Ok{};
}

AccountPage Registry::ListAccounts(const Platform& platform, std::string_view cursor,
                                   std::size_t limit) const {
  AccountPage page;
  auto it = cursor.empty() ? platform.accounts.begin() : platform.accounts.upper_bound(cursor);
  for (; it != platform.accounts.end() && page.accounts.size() < limit; ++it) {
    page.accounts.push_back({it->first, it->second});
  }
  if (it != platform.accounts.end() && !page.accounts.empty()) {
    page.next_cursor = page.accounts.back().account;
  }
  return page;
}

std::vector<DirectoryEntry> Registry::Directory(std::string_view platform_id,
                                                std::string_view prefix, std::size_t limit) const {
  std::vector<DirectoryEntry> entries;
  for (const auto& [id, platform] : platforms_) {
    if (!platform_id.empty() && id != platform_id) continue;
    for (auto it = platform->accounts.lower_bound(prefix); it != platform->accounts.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      if (entries.size() == limit) return entries;
      if (it->second) entries.push_back({id, platform->name, it->first});
    }
  }
  return entries;
}

bool Registry::IsEnrollmentUsable(std::string_view token, std::int64_t now_ms) const {
  auto it = enrollments_.find(auth::Sha256Hex(token));
  return it != enrollments_.end() && it->second.used_ms == 0 && it->second.expires_ms > now_ms;
}

// --- Changes -------------------------------------------------------------------------------------

template <typename T>
void Registry::Commit(store::Mutation mutation, std::function<Result<T>()> apply, Done<T> done) {
  // The store calls back on its own thread; the callback hops to the loop thread. The registry
  // outlives the store's thread (the server closes the store before destroying the registry).
  store_.Submit(std::move(mutation), [this, apply = std::move(apply),
                                      done = std::move(done)](Status status) mutable {
    loop_([status = std::move(status), apply = std::move(apply), done = std::move(done)] {
      if (!status) {
        done(Unavailable());
        return;
      }
      done(apply());
    });
  });
}

void Registry::CreateEnrollment(std::string name, std::int64_t expires_in_s,
                                Done<Enrollment> done) {
  Enrollment enrollment{auth::RandomCredential("sbe_"), NowMillis() + expires_in_s * 1000};
  store::EnrollmentRecord record{auth::Sha256Hex(enrollment.token), std::move(name),
                                 enrollment.expires_ms, 0};
  Commit<Enrollment>(
      store::PutEnrollment{record},
      [this, record, enrollment]() -> Result<Enrollment> {
        enrollments_[record.token_hash] = record;
        return enrollment;
      },
      std::move(done));
}

std::string Registry::AssignPlatformId(std::string_view name) const {
  std::string stem = PlatformIdStem(name);
  if (stem.empty()) stem = "platform";
  if (reserved_ids_.count(stem) == 0) return stem;
  for (int n = 2;; ++n) {
    std::string candidate = stem + std::to_string(n);
    if (reserved_ids_.count(candidate) == 0) return candidate;
  }
}

void Registry::Register(Registration registration, Done<Registered> done) {
  const std::int64_t now = NowMillis();
  std::string enrollment_hash;
  if (!registration.enrollment_token.empty()) {
    // Marked used now, before the disk confirms, so that a second concurrent use fails.
    enrollment_hash = auth::Sha256Hex(registration.enrollment_token);
    enrollments_[enrollment_hash].used_ms = now;
  }

  store::PlatformRecord record;
  record.id = AssignPlatformId(registration.name);
  record.name = registration.name;
  record.jwks_json = registration.keys.ToJson();
  record.created_ms = now;
  const std::string api_key = auth::RandomCredential("sbk_");
  record.key_hash = auth::Sha256Hex(api_key);
  reserved_ids_.insert(record.id);

  auto platform = std::make_shared<Platform>();
  platform->id = record.id;
  platform->name = record.name;
  platform->key_hash = record.key_hash;
  platform->keys = std::move(registration.keys);
  platform->created_ms = now;
  for (const auto& account : registration.accounts) {
    platform->accounts[account.account] = account.discoverable;
  }

  if (!enrollment_hash.empty()) store_.Submit(store::UseEnrollment{enrollment_hash, now}, {});
  store_.Submit(
      store::PutPlatform{record, std::move(registration.accounts)},
      [this, platform, api_key, enrollment_hash, done = std::move(done)](Status status) mutable {
        loop_([this, status, platform, api_key, enrollment_hash, done = std::move(done)] {
          if (!status) {
            reserved_ids_.erase(platform->id);
            if (!enrollment_hash.empty()) enrollments_[enrollment_hash].used_ms = 0;
            done(Unavailable());
            return;
          }
          Registered result{platform->id, platform->name, api_key, platform->accounts.size()};
          platform_by_key_hash_[platform->key_hash] = platform->id;
          accounts_gauge_.Add(static_cast<std::int64_t>(platform->accounts.size()));
          const std::string id = platform->id;
          platforms_.emplace(id, std::make_unique<Platform>(std::move(*platform)));
          platforms_gauge_.Set(static_cast<std::int64_t>(platforms_.size()));
          registrations_.Inc();
          Log()->info("platform {} registered as '{}' with {} accounts", result.platform_id,
                      result.name, result.accounts);
          done(std::move(result));
        });
      });
}

void Registry::ChangeAccounts(const std::string& platform_id, std::vector<store::AccountRecord> add,
                              std::vector<std::string> remove, Done<AccountChange> done) {
  auto add_copy = add;
  auto remove_copy = remove;
  Commit<AccountChange>(
      store::ChangeAccounts{platform_id, std::move(add_copy), std::move(remove_copy)},
      [this, platform_id, add = std::move(add),
       remove = std::move(remove)]() -> Result<AccountChange> {
        auto it = platforms_.find(platform_id);
        if (it == platforms_.end()) {
          return MakeError(ErrorCode::kPlatformNotRegistered, "the platform was deregistered");
        }
        auto& accounts = it->second->accounts;
        AccountChange change;
        for (const auto& account : add) {
          auto [pos, inserted] = accounts.insert_or_assign(account.account, account.discoverable);
          change.added += inserted ? 1 : 0;
        }
        std::vector<std::string> removed;
        for (const auto& account : remove) {
          if (accounts.erase(account) != 0) removed.push_back(account);
        }
        change.removed = removed.size();
        change.total = accounts.size();
        accounts_gauge_.Add(static_cast<std::int64_t>(change.added) -
                            static_cast<std::int64_t>(change.removed));
        if (observer_ != nullptr && !removed.empty()) {
          observer_->OnAccountsRemoved(platform_id, removed);
        }
        return change;
      },
      std::move(done));
}

void Registry::RotateKeys(const std::string& platform_id, auth::JwkSet keys, Done<Ok> done) {
  const std::string json = keys.ToJson();
  Commit<Ok>(
      store::SetPlatformJwks{platform_id, json},
      [this, platform_id, keys = std::move(keys)]() mutable -> Result<Ok> {
        auto it = platforms_.find(platform_id);
        if (it == platforms_.end()) {
          return MakeError(ErrorCode::kPlatformNotRegistered, "the platform was deregistered");
        }
        it->second->keys = std::move(keys);
        Log()->info("platform {} rotated its keys ({} keys)", platform_id,
                    it->second->keys.keys.size());
        return Ok{};
      },
      std::move(done));
}

void Registry::SetOffloadPolicy(const std::string& platform_id, std::string policy_json,
                                Done<Ok> done) {
  Commit<Ok>(
      store::SetPlatformPolicy{platform_id, policy_json},
      [this, platform_id, policy_json]() -> Result<Ok> {
        auto it = platforms_.find(platform_id);
        if (it == platforms_.end()) {
          return MakeError(ErrorCode::kPlatformNotRegistered, "the platform was deregistered");
        }
        it->second->offload_policy_json = policy_json;
        return Ok{};
      },
      std::move(done));
}

void Registry::Deregister(const std::string& platform_id, Done<Ok> done) {
  Commit<Ok>(
      store::DeregisterPlatform{platform_id, NowMillis()},
      [this, platform_id]() -> Result<Ok> {
        auto it = platforms_.find(platform_id);
        if (it == platforms_.end()) {
          return MakeError(ErrorCode::kPlatformNotRegistered, "the platform is not registered");
        }
        accounts_gauge_.Add(-static_cast<std::int64_t>(it->second->accounts.size()));
        platform_by_key_hash_.erase(it->second->key_hash);
        retired_names_[platform_id] = it->second->name;
        platforms_.erase(it);
        platforms_gauge_.Set(static_cast<std::int64_t>(platforms_.size()));
        deregistrations_.Inc();
        Log()->info("platform {} deregistered", platform_id);
        if (observer_ != nullptr) observer_->OnPlatformDeregistered(platform_id);
        return Ok{};
      },
      std::move(done));
}

void Registry::ExpireEnrollments(std::int64_t now_ms) {
  std::erase_if(enrollments_,
                [now_ms](const auto& entry) { return entry.second.expires_ms <= now_ms; });
}

}  // namespace sb::registry
