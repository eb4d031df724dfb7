// The policy table the MEC consults: each platform's offload policy, read from the platform's
// record in the registry (parsed once and cached) and written back through
// Registry::SetOffloadPolicy, so a policy, with its traffic-influence requests, is durable before
// it takes effect and is reloaded at start.
//
// Writes are applied in memory when the store reports them durable. Changes may overlap (two
// requests in flight): each starts from the newest submitted version, and the store completes them
// in order, so none is lost.
//
// Thread-safety: single-threaded (the loop thread, which also runs the registry's callbacks).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "offload/path.h"
#include "offload/policy.h"
#include "registry/registry.h"

namespace sb::offload {

class PolicyTable {
 public:
  // Told after a platform's policy changed (durably).
  using Listener = std::function<void(const std::string& platform_id)>;

  PolicyTable(registry::Registry& registry, MetricsRegistry& metrics, Clock clock);

  void SetListener(Listener listener) { listener_ = std::move(listener); }

  // The platform's policy, or null when it has none (or is not registered). The pointer stays
  // valid until the next change of that platform's policy.
  const Policy* Find(const std::string& platform_id);
  // The newest version, including a change not yet durable; nullopt when there is none.
  std::optional<Policy> Latest(const std::string& platform_id);

  // Stores `policy` (its updated_ms set now) and answers it once durable.
  void Put(const std::string& platform_id, Policy policy, registry::Done<Policy> done);
  void Remove(const std::string& platform_id, registry::Done<Ok> done);

  // The earliest start or end of a validity window after `now_ms` among the cached policies.
  // TODO(offload): walks every cached policy; an ordered index would keep it cheap for many
  // platforms with many requests.
  std::optional<std::int64_t> NextBoundary(std::int64_t now_ms) const;

 private:
  struct Entry {
    std::string raw;               // the platform record's JSON this was parsed from
    std::optional<Policy> policy;  // nullopt: none, or unreadable
  };
  void Store(const std::string& platform_id, std::optional<Policy> policy,
             std::function<void(Status)> done);

  registry::Registry& registry_;
  Clock clock_;
  Listener listener_;
  std::map<std::string, Entry> cache_;
  struct Submitted {
    std::optional<Policy> policy;
    std::uint64_t version = 0;
  };
  std::map<std::string, Submitted> pending_;  // changes not yet durable, newest per platform
  std::uint64_t next_version_ = 1;
  Counter& unreadable_;
  Counter& write_failures_;
};

}  // namespace sb::offload
