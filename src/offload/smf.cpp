#include "offload/smf.h"

namespace sb::offload {

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kInserted:
      return "inserted";
    case Outcome::kRelocated:
      return "relocated";
    case Outcome::kRemoved:
      return "removed";
    case Outcome::kUnchanged:
      return "unchanged";
  }
  return "unchanged";
}

Smf::Smf(const Topology& topology, Clock clock) : topology_(topology), clock_(std::move(clock)) {
  for (const EdgeSite& edge : topology_.edges())
    upfs_.emplace(edge.site, std::make_unique<UlclUpf>(edge));
}

Path Smf::MainPath() const {
  Path path;
  path.route = topology_.MainRoute();
  return path;
}

Path Smf::PathOf(TerminalId terminal) const {
  auto it = paths_.find(terminal);
  return it == paths_.end() ? MainPath() : it->second;
}

Path Smf::PathFor(const Decision& decision, const Path& before, std::int64_t now) const {
  Path after = MainPath();
  if (decision.edge != nullptr) {
    after.route = Topology::EdgeRoute(*decision.edge);
    after.offloaded = true;
  }
  after.kind = decision.kind;
  after.applications = decision.applications;
  after.request_id = decision.request_id;
  after.reason_code = decision.reason_code;
  after.reason = decision.reason;
  after.notification = decision.notification;
  after.since_ms = after.route == before.route && before.since_ms != 0 ? before.since_ms : now;
  return after;
}

PathChange Smf::OnTransmissionPolicy(const TerminalRef& terminal, const Location& location,
                                     const Decision& decision) {
  PathChange change;
  change.terminal = terminal;
  change.location = location;
  change.before = PathOf(terminal.id);
  change.after = PathFor(decision, change.before, clock_());
  if (change.after.route == change.before.route)
    change.outcome = Outcome::kUnchanged;
  else if (!change.before.offloaded)
    change.outcome = Outcome::kInserted;
  else
    change.outcome = change.after.offloaded ? Outcome::kRelocated : Outcome::kRemoved;

  // A removal is told to whoever asked for the path being removed.
  if (change.outcome == Outcome::kRemoved) change.after.notification = change.before.notification;
  const bool moves = change.outcome != Outcome::kUnchanged;
  if (moves && observer_ != nullptr) observer_->OnPathChanging(change);
  Switch(terminal.id, change.before, change.after);
  paths_[terminal.id] = change.after;
  if (moves && observer_ != nullptr) observer_->OnPathChanged(change);
  return change;
}

// The policy-enable instruction to the target UL CL, after releasing the previous one's rule.
void Smf::Switch(TerminalId terminal, const Path& before, const Path& after) {
  if (before.offloaded && before.route.site != after.route.site)
    upfs_.at(before.route.site)->Release(terminal);
  if (after.offloaded) upfs_.at(after.route.site)->Enable(terminal, after.applications);
}

void Smf::Release(TerminalId terminal) {
  auto it = paths_.find(terminal);
  if (it == paths_.end()) return;
  if (it->second.offloaded) upfs_.at(it->second.route.site)->Release(terminal);
  paths_.erase(it);
}

Route Smf::SelectRoute(TerminalId terminal, std::string_view app) const {
  auto it = paths_.find(terminal);
  if (it == paths_.end() || !it->second.offloaded) return topology_.MainRoute();
  const UlclUpf& upf = *upfs_.at(it->second.route.site);
  if (upf.SelectPsa(terminal, app)) return it->second.route;
  return topology_.MainRoute();
}

const UlclUpf* Smf::UpfAt(const std::string& site) const {
  auto it = upfs_.find(site);
  return it == upfs_.end() ? nullptr : it->second.get();
}

}  // namespace sb::offload
