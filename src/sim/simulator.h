// The offload simulation: replays a trace over a topology through the real decision chain
// (offload::OffloadService: AMF -> NEF -> MEC -> PCF -> SMF -> UL CL UPF), in-process, on a
// registry held in memory and a simulated clock, so ten minutes of trace take well under a second.
//
// Each account of the trace is one connected terminal. A `move` is an operator location report for
// the account; a `send` asks the chain for the sender terminal's route (with the message's
// application) at the event's time, and the LatencyModel turns the route into a delivery latency.
// The same message's latency without offload (egress at the main anchor) is kept beside it.
//
// Scenarios: "no offload" (no policies), and one per policy kind, every platform of the trace
// holding that policy, with parameters derived from the topology and the trace (BuildScenarios
// says which). Deterministic: the same topology, trace and seed give the same results.
//
// Thread-safety: none needed; a Simulate call owns everything it builds.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "offload/policy.h"
#include "offload/topology.h"
#include "sim/latency.h"
#include "sim/trace.h"

namespace sb::sim {

struct Scenario {
  std::string name;  // "no offload", or the policy kind's name
  std::optional<offload::PolicyKind> kind;
  std::map<std::string, offload::Policy> policies;  // by platform id
};

// The parameters of each kind, derived from the topology and the trace:
//   location               every edge DNAI, with the TAIs its site serves
//   location_subscription  the same areas; per platform a seeded half of its accounts
//   location_application   the same areas; every application of the trace except the most
//                          frequent one (the everyday traffic stays on the main anchor)
//   exposure               one traffic-influence request per platform, for a seeded half of its
//                          accounts, naming every edge DNAI, without spatial or temporal limits
// First the "no offload" scenario, then the kinds in the contract's order.
std::vector<Scenario> BuildScenarios(const offload::Topology& topology,
                                     const std::vector<TraceEvent>& trace, std::uint64_t seed);

struct MessageOutcome {
  std::size_t line = 0;  // in the trace
  std::string egress_site;
  bool offloaded = false;
  double latency_ms = 0;           // with this scenario's offload
  double baseline_latency_ms = 0;  // the same message egressing at the main anchor
};

struct ScenarioResult {
  std::string name;
  std::vector<MessageOutcome> messages;  // one per `send`, in trace order
};

// Checks every location of the trace against the topology: an unknown TAI is refused, naming its
// line. A cell the topology does not know (e.g. in an uncovered TAI) is dropped and the TAI kept.
Status CheckTrace(const offload::Topology& topology, std::vector<TraceEvent>& trace);

// Replays `trace` (already checked) under one scenario.
ScenarioResult Simulate(const offload::Topology& topology, const std::vector<TraceEvent>& trace,
                        const Scenario& scenario, const LatencyModel& latency);

}  // namespace sb::sim
