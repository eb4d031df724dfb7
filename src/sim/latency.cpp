#include "sim/latency.h"

#include <algorithm>

namespace sb::sim {
namespace {

double WorstCoveredAccess(const offload::Topology& topology) {
  double worst = 0;
  for (const auto& edge : topology.edges())
    worst = std::max(worst, edge.latency_local_ms + edge.latency_to_main_ms);
  return worst;
}

}  // namespace

LatencyModel::LatencyModel(const offload::Topology& topology)
    : LatencyModel(topology, WorstCoveredAccess(topology)) {}

double LatencyModel::Leg(const offload::Location& location, const std::string& site) const {
  const offload::EdgeSite* serving = location.Known() ? topology_.SiteServing(location) : nullptr;
  if (serving != nullptr && serving->site == site) return serving->latency_local_ms;

  // Everything else goes through the main anchor first.
  const double to_main = serving != nullptr
                             ? serving->latency_local_ms + serving->latency_to_main_ms
                             : uncovered_access_ms_;
  if (site == topology_.main().site) return to_main;
  const offload::EdgeSite* target = topology_.FindBySite(site);
  return target == nullptr ? to_main : to_main + target->latency_to_main_ms;
}

}  // namespace sb::sim
