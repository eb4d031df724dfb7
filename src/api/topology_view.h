// The operator's view of the operator network, live:
//
//   GET /admin/topology               anyone who reaches the listener: the page (HTML, CSS and
//                                     script in one document; it holds no data, asks for the
//                                     operator token and sends it as Bearer)
//   GET /v1/network/topology-state    operator: the sites (main anchor first, then the edges in
//                                     topology order) with their DNAI, UL CL, PSA, TAIs, cells and
//                                     latencies; the connected terminals whose path egresses
//                                     there; and the messages egressing there (total, and per
//                                     second over the last few seconds)
//
// The state's shape is documented in docs/offload.md ("Topology page").
//
// Thread-safety: every call runs on the loop thread.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <map>
#include <string>

#include "delivery/exchange.h"
#include "net/server.h"
#include "offload/egress_rates.h"
#include "offload/offload_service.h"

namespace sb::api {

// The page, embedded at build time from web/admin/topology.html.
extern const char* const kTopologyPage;

class TopologyView {
 public:
  static constexpr std::int64_t kRateWindowMs = 5000;

  // Both must outlive the view.
  TopologyView(offload::OffloadService& offload, delivery::Exchange& exchange, offload::Clock clock)
      : offload_(offload), exchange_(exchange), clock_(std::move(clock)), rates_(kRateWindowMs) {}

  // Samples the per-site egress counters; call about once a second so rates stay current
  // between views.
  void Sample() { rates_.Add(clock_(), offload_.EgressCounts()); }

  // The body of GET /v1/network/topology-state (samples first).
  boost::json::object State();
  // The answer to GET /admin/topology.
  static net::HttpResponse Page();

 private:
  // The connected terminals known to offload, by the site where their path egresses.
  std::map<std::string, boost::json::array> TerminalsBySite();

  offload::OffloadService& offload_;
  delivery::Exchange& exchange_;
  offload::Clock clock_;
  offload::EgressRates rates_;
};

}  // namespace sb::api
