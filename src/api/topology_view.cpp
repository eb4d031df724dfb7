#include "api/topology_view.h"

#include <boost/json.hpp>
#include <map>
#include <set>

#include "api/offload_api.h"

namespace sb::api {
namespace json = boost::json;
namespace {

json::array Strings(const std::vector<std::string>& values) {
  return json::array(values.begin(), values.end());
}

// The devices of connected terminals, by terminal id, for the accounts of `known`.
std::map<std::uint64_t, std::string> ConnectedDevices(
    const delivery::Exchange& exchange,
    const std::vector<offload::OffloadService::KnownTerminal>& known) {
  std::map<std::uint64_t, std::string> devices;
  std::set<Address> asked;
  for (const auto& entry : known) {
    if (!asked.insert(entry.terminal.address).second) continue;
    for (const auto& info : exchange.TerminalsOf(entry.terminal.address))
      devices[info.id] = info.device;
  }
  return devices;
}

}  // namespace

json::object TopologyView::State() {
  Sample();
  const auto rates = rates_.PerSecond();
  const auto totals = offload_.EgressCounts();
  auto terminals = TerminalsBySite();
  auto traffic = [&](json::object& site, const std::string& name) {
    auto rate = rates.find(name);
    auto total = totals.find(name);
    site["rate_per_s"] = rate == rates.end() ? 0.0 : rate->second;
    site["egress_total"] = total == totals.end() ? 0 : total->second;
    site["terminals"] = std::move(terminals[name]);
  };

  const offload::Topology& topology = offload_.topology();
  json::array sites;
  json::object main{{"site", topology.main().site},
                    {"role", "main"},
                    {"dnai", topology.main().dnai},
                    {"psa", topology.main().psa}};
  traffic(main, topology.main().site);
  sites.push_back(std::move(main));
  for (const offload::EdgeSite& edge : topology.edges()) {
    json::object site{{"site", edge.site},
                      {"role", "edge"},
                      {"city", edge.city},
                      {"dnai", edge.dnai},
                      {"ulcl", edge.ulcl},
                      {"psa", edge.psa},
                      {"tais", Strings(edge.tais)},
                      {"cells", Strings(edge.cells)},
                      {"latency_to_main_ms", edge.latency_to_main_ms},
                      {"latency_local_ms", edge.latency_local_ms}};
    traffic(site, edge.site);
    sites.push_back(std::move(site));
  }
  return json::object{{"ts", clock_()},
                      {"rate_window_ms", rates_.window_ms()},
                      {"sites", std::move(sites)},
                      {"uncovered_tais", Strings(topology.uncovered_tais())}};
}

// TODO(offload): a terminal that has neither reported a location nor sent a message is not known
// to offload yet and is not listed; an attach hook from the exchange would list it at once.
std::map<std::string, json::array> TopologyView::TerminalsBySite() {
  // Asking the exchange for its terminals selects routes: those are not egress.
  offload::OffloadService::QuietScope quiet(offload_);
  const auto known = offload_.KnownTerminals();
  const auto devices = ConnectedDevices(exchange_, known);
  std::map<std::string, json::array> by_site;
  for (const auto& entry : known) {
    auto device = devices.find(entry.terminal.id);
    if (device == devices.end()) continue;  // disconnected, not yet forgotten
    by_site[entry.path.route.site].push_back(
        json::object{{"session", std::to_string(entry.terminal.id)},
                     {"platform", entry.terminal.address.platform},
                     {"account", entry.terminal.address.account},
                     {"device", device->second},
                     {"location", LocationJson(entry.location)},
                     {"path", PathJson(entry.path)}});
  }
  return by_site;
}

net::HttpResponse TopologyView::Page() {
  net::HttpResponse response;
  response.content_type = "text/html; charset=utf-8";
  response.body = kTopologyPage;
  response.headers["Cache-Control"] = "no-store";
  response.headers["Content-Security-Policy"] =
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
      "connect-src 'self'; img-src 'self' data:";
  response.headers["X-Content-Type-Options"] = "nosniff";
  return response;
}

}  // namespace sb::api
