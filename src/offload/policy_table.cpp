#include "offload/policy_table.h"

#include <spdlog/spdlog.h>

namespace sb::offload {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = [] {
    auto l = spdlog::get("offload");
    return l ? l : spdlog::default_logger()->clone("offload");
  }();
  return logger;
}

void Consider(std::optional<std::int64_t>& next, std::int64_t candidate, std::int64_t now_ms) {
  if (candidate > now_ms && (!next || candidate < *next)) next = candidate;
}

}  // namespace

PolicyTable::PolicyTable(registry::Registry& registry, MetricsRegistry& metrics, Clock clock)
    : registry_(registry),
      clock_(std::move(clock)),
      unreadable_(metrics.GetCounter("switchboard_offload_errors_total", "Offload errors, by kind",
                                     {{"kind", "stored_policy_unreadable"}})),
      write_failures_(metrics.GetCounter("switchboard_offload_errors_total",
                                         "Offload errors, by kind",
                                         {{"kind", "policy_write_failed"}})) {}

const Policy* PolicyTable::Find(const std::string& platform_id) {
  const registry::Platform* platform = registry_.Find(platform_id);
  if (platform == nullptr || platform->offload_policy_json.empty()) {
    cache_.erase(platform_id);
    return nullptr;
  }
  Entry& entry = cache_[platform_id];
  if (entry.raw != platform->offload_policy_json || entry.raw.empty()) {
    entry.raw = platform->offload_policy_json;
    auto parsed = ParseStoredPolicy(entry.raw);
    if (parsed) {
      entry.policy = std::move(parsed).value();
    } else {
      entry.policy.reset();
      unreadable_.Inc();
      Log()->warn("platform {}: stored offload policy unreadable ({}); treated as none",
                  platform_id, parsed.error().message);
    }
  }
  return entry.policy ? &*entry.policy : nullptr;
}

std::optional<Policy> PolicyTable::Latest(const std::string& platform_id) {
  if (auto pending = pending_.find(platform_id); pending != pending_.end())
    return pending->second.policy;
  const Policy* policy = Find(platform_id);
  return policy == nullptr ? std::nullopt : std::optional<Policy>(*policy);
}

void PolicyTable::Put(const std::string& platform_id, Policy policy, registry::Done<Policy> done) {
  policy.updated_ms = clock_();
  Store(platform_id, policy, [done = std::move(done), policy](Status status) {
    if (!status) return done(status.error());
    done(policy);
  });
}

void PolicyTable::Remove(const std::string& platform_id, registry::Done<Ok> done) {
  Store(platform_id, std::nullopt, std::move(done));
}

void PolicyTable::Store(const std::string& platform_id, std::optional<Policy> policy,
                        std::function<void(Status)> done) {
  const std::uint64_t version = next_version_++;
  const std::string json = policy ? StoredPolicyJson(*policy) : std::string();
  pending_[platform_id] = Submitted{std::move(policy), version};

  // Runs on the loop thread once durable; the registry then holds the new JSON, which Find()
  // parses again on its next call.
  registry_.SetOffloadPolicy(platform_id, json,
                             [this, platform_id, version, done = std::move(done)](Status status) {
                               auto pending = pending_.find(platform_id);
                               if (pending != pending_.end() && pending->second.version == version)
                                 pending_.erase(pending);
                               if (!status) {
                                 write_failures_.Inc();
                                 Log()->warn("platform {}: offload policy not stored: {}",
                                             platform_id, status.error().message);
                                 return done(status);
                               }
                               if (listener_) listener_(platform_id);
                               done(status);
                             });
}

std::optional<std::int64_t> PolicyTable::NextBoundary(std::int64_t now_ms) const {
  std::optional<std::int64_t> next;
  for (const auto& [platform_id, entry] : cache_) {
    if (!entry.policy) continue;
    Consider(next, entry.policy->validity.start_ms, now_ms);
    Consider(next, entry.policy->validity.end_ms, now_ms);
    for (const auto& request : entry.policy->requests) {
      Consider(next, request.validity.start_ms, now_ms);
      Consider(next, request.validity.end_ms, now_ms);
    }
  }
  return next;
}

}  // namespace sb::offload
