// The operator network as the exchange sees it: one main anchor site (the main PSA) and edge sites,
// each with its DNAI, UL CL UPF, local PSA, and the TAIs and cells it serves.
//
// Read once at start-up from the JSON format of config/topology.sample.json; immutable afterwards,
// so it may be read from any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/message.h"

namespace sb::offload {

// The main anchor: where every terminal egresses unless a policy places it on an edge site.
struct MainSite {
  std::string site;
  std::string dnai;
  std::string psa;
};

// An edge site with its user-plane functions and the area it serves.
struct EdgeSite {
  std::string site;
  std::string city;
  std::string dnai;
  std::string ulcl;  // the UL CL UPF that branches traffic here
  std::string psa;   // the local PSA where offloaded traffic egresses
  std::vector<std::string> tais;
  std::vector<std::string> cells;
  double latency_to_main_ms = 0;
  double latency_local_ms = 0;

  bool ServesTai(std::string_view tai) const;
  bool ServesCell(std::string_view cell) const;
};

// A terminal's location in the radio network. `cell` may be empty when only the TAI is known.
struct Location {
  std::string tai;
  std::string cell;

  bool Known() const { return !tai.empty(); }
  bool operator==(const Location&) const = default;
};

class Topology {
 public:
  // A network of the main anchor only: no edge sites, no known TAIs.
  static Topology MainOnly(MainSite main);
  // Parses the topology JSON; the error names the member that is wrong.
  static Result<Topology> Parse(std::string_view json);

  const MainSite& main() const { return main_; }
  const std::vector<EdgeSite>& edges() const { return edges_; }
  const std::string& plmn() const { return plmn_; }
  // TAIs that no edge site serves: terminals there stay on the main anchor.
  const std::vector<std::string>& uncovered_tais() const { return uncovered_tais_; }
  bool HasEdges() const { return !edges_.empty(); }

  // The route of traffic that egresses at the main anchor (no UL CL in the path).
  Route MainRoute() const { return Route{main_.site, main_.dnai, "", main_.psa}; }
  // The route of traffic that the UL CL of `edge` branches to its local PSA.
  static Route EdgeRoute(const EdgeSite& edge) {
    return Route{edge.site, edge.dnai, edge.ulcl, edge.psa};
  }

  const EdgeSite* FindByDnai(std::string_view dnai) const;
  const EdgeSite* FindBySite(std::string_view site) const;
  // The edge site whose area holds the location: by cell when the cell is given, else by TAI.
  const EdgeSite* SiteServing(const Location& location) const;
  bool KnowsTai(std::string_view tai) const;
  bool KnowsCell(std::string_view cell) const;
  // Checks a reported location: the TAI must be known, the cell (when given) known and in that
  // TAI's site. A main-only topology knows no TAIs and accepts any location.
  Status CheckLocation(const Location& location) const;

 private:
  std::string plmn_;
  MainSite main_;
  std::vector<EdgeSite> edges_;
  std::vector<std::string> uncovered_tais_;
};

}  // namespace sb::offload
