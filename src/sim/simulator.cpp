#include "sim/simulator.h"

#include <algorithm>
#include <memory>
#include <random>
#include <set>

#include "auth/jwt.h"
#include "core/metrics.h"
#include "offload/offload_service.h"
#include "registry/registry.h"
#include "store/store.h"

namespace sb::sim {
namespace {

using offload::Location;
using offload::Policy;
using offload::PolicyKind;
using offload::TerminalId;

constexpr std::int64_t kEpochMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z: trace time 0
constexpr std::int64_t kTickMs = 1000;                // as the exchange's default offload tick

// A store that holds nothing: the replay's registry is seeded once from a snapshot, and every
// change it submits is "durable" at once. Completions run inline, on the caller's thread.
class MemoryStore : public store::Store {
 public:
  explicit MemoryStore(store::Snapshot snapshot) : snapshot_(std::move(snapshot)) {}
  store::Snapshot Load() override { return snapshot_; }
  void Submit(store::Mutation, store::Completion done) override {
    if (done) done(Ok{});
  }
  void Flush() override {}
  void Close() override {}
  std::size_t QueueDepth() const override { return 0; }

 private:
  store::Snapshot snapshot_;
};

std::map<std::string, std::set<std::string>> AccountsByPlatform(
    const std::vector<TraceEvent>& trace) {
  std::map<std::string, std::set<std::string>> accounts;
  for (const TraceEvent& event : trace) {
    accounts[event.from.platform].insert(event.from.account);
    if (event.kind == EventKind::kSend) accounts[event.to.platform].insert(event.to.account);
  }
  return accounts;
}

// The registry's view of the trace: every platform with its accounts and the scenario's policy.
store::Snapshot SnapshotFor(const std::vector<TraceEvent>& trace, const Scenario& scenario) {
  static const std::string jwks =
      R"({"keys":[)" + auth::SigningKey::Generate().PublicJwkJson("sim") + "]}";
  store::Snapshot snapshot;
  for (const auto& [platform, accounts] : AccountsByPlatform(trace)) {
    store::PlatformRecord record;
    record.id = platform;
    record.name = platform;
    record.key_hash = "sim-" + platform;
    record.jwks_json = jwks;
    if (auto policy = scenario.policies.find(platform); policy != scenario.policies.end())
      record.offload_policy_json = offload::StoredPolicyJson(policy->second);
    snapshot.platforms.push_back(record);
    for (const auto& account : accounts)
      snapshot.accounts.push_back({platform, store::AccountRecord{account, true}});
  }
  return snapshot;
}

// A seeded half of `accounts`; the raw engine output keeps it the same on every standard library.
std::set<std::string> SeededHalf(const std::set<std::string>& accounts, std::mt19937_64& rng) {
  std::set<std::string> picked;
  for (const auto& account : accounts) {
    if ((rng() & 1) != 0) picked.insert(account);
  }
  return picked;
}

// Every application of the trace but the most frequent (ties: the first by name).
std::set<std::string> LessFrequentApps(const std::vector<TraceEvent>& trace) {
  std::map<std::string, std::size_t> counts;
  for (const TraceEvent& event : trace) {
    if (event.kind == EventKind::kSend) ++counts[event.app];
  }
  std::set<std::string> apps;
  for (const auto& [app, count] : counts)
    apps.insert(app);
  auto top = std::max_element(counts.begin(), counts.end(),
                              [](const auto& a, const auto& b) { return a.second < b.second; });
  if (top != counts.end()) apps.erase(top->first);
  return apps;
}

Policy AreaPolicy(const offload::Topology& topology, PolicyKind kind) {
  Policy policy;
  policy.kind = kind;
  for (const auto& edge : topology.edges())
    policy.areas.push_back(offload::Area{edge.dnai, edge.tais, {}});
  return policy;
}

Policy ExposurePolicy(const offload::Topology& topology, std::set<std::string> accounts) {
  Policy policy;
  policy.kind = PolicyKind::kExposure;
  offload::TrafficInfluence request;
  request.id = "ti1";
  request.accounts = std::move(accounts);
  for (const auto& edge : topology.edges())
    request.dnais.push_back(edge.dnai);
  policy.requests.push_back(std::move(request));
  policy.next_request = 2;
  return policy;
}

// One replay: a registry in memory, the offload chain over it, and the trace's terminals.
class Replay {
 public:
  Replay(const offload::Topology& topology, const std::vector<TraceEvent>& trace,
         const Scenario& scenario)
      : store_(SnapshotFor(trace, scenario)),
        registry_(
            store_, [](std::function<void()> task) { task(); }, metrics_) {
    registry_.Load(store_.Load());
    for (const auto& [platform, accounts] : AccountsByPlatform(trace)) {
      for (const auto& account : accounts)
        terminals_.emplace(Address{platform, account}, terminals_.size() + 1);
    }
    service_ = std::make_unique<offload::OffloadService>(
        topology, registry_, metrics_, [this] { return now_; },
        [this](const Address& address) {
          auto it = terminals_.find(address);
          return it == terminals_.end() ? std::vector<TerminalId>{}
                                        : std::vector<TerminalId>{it->second};
        });
  }

  ScenarioResult Run(const std::string& name, const std::vector<TraceEvent>& trace,
                     const LatencyModel& latency) {
    ScenarioResult result{name, {}};
    std::int64_t next_tick = kEpochMs + kTickMs;
    for (const TraceEvent& event : trace) {
      for (now_ = kEpochMs + event.t_ms; next_tick <= now_; next_tick += kTickMs)
        service_->Tick();
      if (event.kind == EventKind::kMove) {
        Move(event);
      } else {
        result.messages.push_back(Send(event, latency));
      }
    }
    return result;
  }

 private:
  void Move(const TraceEvent& event) {
    const Location location{event.tai, event.cell};
    locations_[event.from] = location;
    service_->ReportAccountLocation(event.from, location);
  }

  MessageOutcome Send(const TraceEvent& event, const LatencyModel& latency) {
    const Route route = service_->SelectRoute(terminals_.at(event.from), event.from, event.app);
    const Location& sender = locations_[event.from];
    const Location& recipient = locations_[event.to];
    const std::string& main = service_->topology().main().site;
    return MessageOutcome{event.line, route.site, route.site != main,
                          latency.Delivery(sender, route.site, recipient),
                          latency.Delivery(sender, main, recipient)};
  }

  MetricsRegistry metrics_;
  MemoryStore store_;
  registry::Registry registry_;
  std::int64_t now_ = kEpochMs;
  std::map<Address, TerminalId> terminals_;
  std::map<Address, Location> locations_;
  std::unique_ptr<offload::OffloadService> service_;
};

}  // namespace

std::vector<Scenario> BuildScenarios(const offload::Topology& topology,
                                     const std::vector<TraceEvent>& trace, std::uint64_t seed) {
  const auto accounts = AccountsByPlatform(trace);
  std::vector<Scenario> scenarios{Scenario{"no offload", std::nullopt, {}}};
  std::mt19937_64 subscription_rng(seed);
  std::mt19937_64 exposure_rng(seed + 1);
  const std::set<std::string> apps = LessFrequentApps(trace);

  for (PolicyKind kind : offload::kAllPolicyKinds) {
    Scenario scenario{std::string(offload::PolicyKindName(kind)), kind, {}};
    for (const auto& [platform, members] : accounts) {
      Policy policy = kind == PolicyKind::kExposure
                          ? ExposurePolicy(topology, SeededHalf(members, exposure_rng))
                          : AreaPolicy(topology, kind);
      if (kind == PolicyKind::kLocationSubscription)
        policy.accounts = SeededHalf(members, subscription_rng);
      if (kind == PolicyKind::kLocationApplication) policy.applications = apps;
      scenario.policies.emplace(platform, std::move(policy));
    }
    scenarios.push_back(std::move(scenario));
  }
  return scenarios;
}

Status CheckTrace(const offload::Topology& topology, std::vector<TraceEvent>& trace) {
  for (TraceEvent& event : trace) {
    if (event.kind != EventKind::kMove) continue;
    auto checked = topology.CheckLocation(Location{event.tai, event.cell});
    if (!checked && !event.cell.empty() && !topology.KnowsCell(event.cell) &&
        topology.CheckLocation(Location{event.tai, ""})) {
      event.cell.clear();
      continue;
    }
    if (!checked)
      return MakeError(ErrorCode::kInvalidParams,
                       "line " + std::to_string(event.line) + ": " + checked.error().message);
  }
  return Ok{};
}

ScenarioResult Simulate(const offload::Topology& topology, const std::vector<TraceEvent>& trace,
                        const Scenario& scenario, const LatencyModel& latency) {
  Replay replay(topology, trace, scenario);
  return replay.Run(scenario.name, trace, latency);
}

}  // namespace sb::sim
