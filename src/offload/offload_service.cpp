#include "offload/offload_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <unordered_map>
#include <unordered_set>

namespace sb::offload {
namespace json = boost::json;
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = [] {
    auto l = spdlog::get("offload");
    return l ? l : spdlog::default_logger()->clone("offload");
  }();
  return logger;
}

json::object RouteJson(const Route& route) {
  return json::object{
      {"site", route.site}, {"dnai", route.dnai}, {"ulcl", route.ulcl}, {"psa", route.psa}};
}

std::string KindName(const Path& path) {
  return path.kind ? std::string(PolicyKindName(*path.kind)) : std::string();
}

}  // namespace

OffloadService::OffloadService(Topology topology, registry::Registry& registry,
                               MetricsRegistry& metrics, Clock clock, TerminalLister lister)
    : topology_(std::move(topology)),
      clock_(std::move(clock)),
      metrics_(metrics),
      policies_(registry, metrics, clock_),
      smf_(topology_, clock_),
      pcf_(topology_, smf_, clock_),
      mec_(policies_, pcf_),
      nef_(mec_, policies_, clock_),
      // The exchange's lister asks for each terminal's route: that must not register terminals
      // while the AMF is in the middle of its own bookkeeping.
      amf_(nef_,
           [this, lister = std::move(lister)](const Address& address) {
             ++listing_;
             auto ids = lister(address);
             --listing_;
             return ids;
           }),
      last_eval_ms_(clock_()),
      offloaded_(metrics.GetGauge("switchboard_offload_terminals",
                                  "Terminals whose path has a UL CL and local PSA")),
      terminal_reports_(metrics.GetCounter("switchboard_offload_location_reports_total",
                                           "Location reports, by source",
                                           {{"source", "terminal"}})),
      operator_reports_(metrics.GetCounter("switchboard_offload_location_reports_total",
                                           "Location reports, by source",
                                           {{"source", "operator"}})) {
  smf_.SetObserver(this);
  policies_.SetListener([this](const std::string& platform_id) { Reevaluate(platform_id); });
  Log()->info("topology: main anchor {} ({}), {} edge sites", topology_.main().site,
              topology_.main().psa, topology_.edges().size());
}

OffloadService::~OffloadService() {
  smf_.SetObserver(nullptr);
  policies_.SetListener({});
}

// --- Per message ---------------------------------------------------------------------------------

Route OffloadService::SelectRoute(TerminalId terminal, const Address& sender,
                                  std::string_view app) {
  if (listing_ > 0) return smf_.SelectRoute(terminal, app);
  Ensure(terminal, sender);
  CatchUp();
  Route route = smf_.SelectRoute(terminal, app);
  if (quiet_ == 0) EgressCounter(route.site).Inc();
  return route;
}

Counter& OffloadService::EgressCounter(const std::string& site) {
  Counter*& counter = egress_[site];
  if (counter == nullptr) {
    counter =
        &metrics_.GetCounter("switchboard_egress_messages_total",
                             "Messages accepted, by the site where they egress", {{"site", site}});
  }
  return *counter;
}

// --- Location ------------------------------------------------------------------------------------

std::vector<PathChange> OffloadService::ReportAccountLocation(const Address& address,
                                                              const Location& location) {
  operator_reports_.Inc();
  Log()->info("location report: {} at tai {} cell {}", address.ToString(), location.tai,
              location.cell.empty() ? "-" : location.cell);
  std::vector<PathChange> changes = amf_.ReportAccountLocation(address, location);
  for (const auto& change : changes)
    Record(change);
  RefreshBoundary();
  return changes;
}

Status OffloadService::ReportTerminalLocation(TerminalId terminal, const Address& address,
                                              const Location& location) {
  if (auto checked = topology_.CheckLocation(location); !checked) {
    metrics_
        .GetCounter("switchboard_offload_location_refused_total",
                    "Terminal location frames ignored, by reason", {{"reason", "unknown_place"}})
        .Inc();
    Log()->info("[term {}] location frame of {} ignored: {}", terminal, address.ToString(),
                checked.error().message);
    return checked;
  }
  terminal_reports_.Inc();
  Record(amf_.ReportTerminalLocation(TerminalRef{terminal, address}, location));
  RefreshBoundary();
  return Ok{};
}

OffloadService::TerminalView OffloadService::Describe(TerminalId terminal, const Address& address) {
  Ensure(terminal, address);
  CatchUp();
  return TerminalView{amf_.LocationOf(terminal), smf_.PathOf(terminal)};
}

std::vector<OffloadService::KnownTerminal> OffloadService::KnownTerminals() const {
  std::vector<KnownTerminal> known;
  for (const TerminalRef& ref : amf_.Terminals())
    known.push_back(KnownTerminal{ref, amf_.LocationOf(ref.id), smf_.PathOf(ref.id)});
  std::sort(known.begin(), known.end(),
            [](const auto& a, const auto& b) { return a.terminal.id < b.terminal.id; });
  return known;
}

std::map<std::string, std::uint64_t> OffloadService::EgressCounts() const {
  std::map<std::string, std::uint64_t> counts;
  for (const auto& [site, counter] : egress_)
    counts[site] = counter->Value();
  return counts;
}

// --- Evaluation ----------------------------------------------------------------------------------

void OffloadService::Ensure(TerminalId terminal, const Address& address) {
  if (amf_.Knows(terminal)) return;
  Record(amf_.Register(TerminalRef{terminal, address}));
  RefreshBoundary();
}

void OffloadService::Reevaluate(const std::string& platform_id) {
  Log()->info("platform {}: offload policy changed, re-evaluating its terminals", platform_id);
  for (const TerminalRef& ref : amf_.Terminals()) {
    if (ref.address.platform == platform_id)
      Record(mec_.OnLocationEvent(ref, amf_.LocationOf(ref.id)));
  }
  RefreshBoundary();
}

void OffloadService::ReevaluateAll() {
  for (const TerminalRef& ref : amf_.Terminals())
    Record(mec_.OnLocationEvent(ref, amf_.LocationOf(ref.id)));
}

void OffloadService::CatchUp() {
  const std::int64_t now = clock_();
  if (!boundary_ || now < *boundary_) return;
  Log()->info("a validity window opened or closed at {}: re-evaluating every path", *boundary_);
  last_eval_ms_ = now;
  ReevaluateAll();
  RefreshBoundary();
}

void OffloadService::Tick() {
  Prune();
  Discover();
  CatchUp();
}

// Terminals that disconnected: their session ends, with no notification.
void OffloadService::Prune() {
  std::unordered_map<Address, std::unordered_set<TerminalId>, AddressHash> connected;
  for (const TerminalRef& ref : amf_.Terminals()) {
    auto [it, fresh] = connected.try_emplace(ref.address);
    if (fresh) {
      for (TerminalId id : amf_.ConnectedTerminals(ref.address))
        it->second.insert(id);
    }
    if (it->second.count(ref.id) != 0) continue;
    amf_.Deregister(ref.id);
    smf_.Release(ref.id);
  }
  offloaded_.Set(0);
  for (const TerminalRef& ref : amf_.Terminals())
    offloaded_.Add(smf_.PathOf(ref.id).offloaded);
}

// Terminals of located accounts that connected since: they start at the account's location.
// TODO(offload): an attach hook from the exchange would register terminals at once instead of at
// the next tick or first message; this scan costs one lookup per located account per tick.
void OffloadService::Discover() {
  for (const Address& address : amf_.LocatedAccounts()) {
    for (TerminalId id : amf_.ConnectedTerminals(address))
      Ensure(id, address);
  }
}

// --- Results -------------------------------------------------------------------------------------

void OffloadService::Record(const PathChange& change) {
  const std::string outcome(OutcomeName(change.outcome));
  metrics_
      .GetCounter("switchboard_offload_decisions_total", "Offload decisions, by outcome",
                  {{"outcome", outcome}})
      .Inc();
  metrics_
      .GetCounter("switchboard_offload_decision_reasons_total", "Offload decisions, by reason",
                  {{"reason", change.after.reason_code}})
      .Inc();
  if (change.after.offloaded != change.before.offloaded)
    offloaded_.Add(change.after.offloaded ? 1 : -1);

  const auto level =
      change.outcome == Outcome::kUnchanged ? spdlog::level::debug : spdlog::level::info;
  Log()->log(level, "[term {}] {} {}: {} -> {} ({}; policy {})", change.terminal.id,
             change.terminal.address.ToString(), outcome, change.before.route.site,
             change.after.route.site, change.after.reason,
             change.after.kind ? PolicyKindName(*change.after.kind) : "none");
}

void OffloadService::OnPathChanging(const PathChange& change) {
  Notify(change, "early");
}

void OffloadService::OnPathChanged(const PathChange& change) {
  Notify(change, "late");
}

void OffloadService::Notify(const PathChange& change, std::string_view phase) {
  const NotificationTarget& target = change.after.notification;
  if (sender_ == nullptr || target.url.empty()) return;
  if ((phase == "early" && !target.early) || (phase == "late" && !target.late)) return;
  json::object body{
      {"event", "up_path_change"},
      {"phase", phase},
      {"platform", change.terminal.address.platform},
      {"account", change.terminal.address.account},
      {"session", std::to_string(change.terminal.id)},
      {"outcome", OutcomeName(change.outcome)},
      {"source", RouteJson(change.before.route)},
      {"target", RouteJson(change.after.route)},
      {"location", json::object{{"tai", change.location.tai}, {"cell", change.location.cell}}},
      {"policy_kind", KindName(change.after)},
      {"request_id", change.after.request_id},
      {"reason", change.after.reason},
      {"ts", clock_()}};
  sender_->Send(target.url, json::serialize(body));
}

}  // namespace sb::offload
