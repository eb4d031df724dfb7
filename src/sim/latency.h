// The delivery-latency model of the offload simulation, over a topology's one-way link latencies.
//
// A message travels in two legs: uplink from the sender's location to the site where it egresses,
// then downlink from that site to the recipient's location. One leg between a location and a site:
//
//   location served by edge E, site E:            E.latency_local_ms
//   location served by edge E, the main anchor:   E.latency_local_ms + E.latency_to_main_ms
//   location served by edge E, another edge F:    the main-anchor leg + F.latency_to_main_ms
//                                                 (edge sites reach each other through the core)
//   location served by no edge (uncovered TAI,    uncovered_access_ms to the main anchor, plus
//   or unknown):                                  F.latency_to_main_ms to reach an edge F
//
// The topology has no figure for uncovered areas; uncovered_access_ms defaults to the largest
// latency_local_ms + latency_to_main_ms of any edge (the worst covered access), so uncovered users
// are never faster than covered ones. The recipient's own offload path does not shorten the
// downlink: the message leaves the exchange at its egress site.
//
// Immutable after construction; safe to share between threads.
#pragma once

#include "offload/topology.h"

namespace sb::sim {

class LatencyModel {
 public:
  // `topology` must outlive the model.
  explicit LatencyModel(const offload::Topology& topology);
  LatencyModel(const offload::Topology& topology, double uncovered_access_ms)
      : topology_(topology), uncovered_access_ms_(uncovered_access_ms) {}

  // One leg between `location` and `site` (the main anchor's or an edge's site name), in ms.
  double Leg(const offload::Location& location, const std::string& site) const;
  // A whole message: sender location -> egress site -> recipient location.
  double Delivery(const offload::Location& sender, const std::string& egress_site,
                  const offload::Location& recipient) const {
    return Leg(sender, egress_site) + Leg(recipient, egress_site);
  }
  double uncovered_access_ms() const { return uncovered_access_ms_; }

 private:
  const offload::Topology& topology_;
  double uncovered_access_ms_ = 0;
};

}  // namespace sb::sim
