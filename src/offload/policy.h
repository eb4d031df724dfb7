// The four offload policy kinds, their parameters, and their JSON forms (the request a platform
// PUTs, and the document stored in the platform's record).
//
// Kinds (the contract's names):
//   location               areas (TAIs and/or cells mapped to DNAIs)
//   location_subscription  areas, plus the accounts subscribed to offload; others stay on the main
//                          anchor
//   location_application   areas, plus the application ids that are offloaded; other traffic of
//                          the same terminal keeps egressing at the main anchor
//   exposure               the platform steers its own traffic with traffic-influence requests
//                          (3GPP TS 23.502 4.3.6, through the NEF)
// Every kind also takes an optional temporal validity and notification target.
//
// Parameters are validated against the topology: an unknown DNAI, TAI or cell is refused with
// `invalid_params` and a message naming the value. Pure data and functions; no thread concerns.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "offload/topology.h"

namespace sb::offload {

enum class PolicyKind { kLocation, kLocationSubscription, kLocationApplication, kExposure };

std::string_view PolicyKindName(PolicyKind kind);
std::optional<PolicyKind> ParsePolicyKind(std::string_view name);
inline constexpr PolicyKind kAllPolicyKinds[] = {
    PolicyKind::kLocation, PolicyKind::kLocationSubscription, PolicyKind::kLocationApplication,
    PolicyKind::kExposure};

// A time window in milliseconds since the Unix epoch; 0 leaves that side open.
struct TemporalValidity {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;

  bool Covers(std::int64_t now_ms) const {
    return (start_ms == 0 || now_ms >= start_ms) && (end_ms == 0 || now_ms < end_ms);
  }
  bool Bounded() const { return start_ms != 0 || end_ms != 0; }
};

// Where to tell a platform about path changes. `early`: before the UL CL switches the path;
// `late`: after (3GPP TS 23.502 4.3.6.3). Without a URL nobody is told.
struct NotificationTarget {
  std::string url;
  bool early = false;
  bool late = true;
};

// Where offload applies, and to which DNAI. Without TAIs and cells the area is the whole service
// area of the DNAI's edge site.
struct Area {
  std::string dnai;
  std::vector<std::string> tais;
  std::vector<std::string> cells;

  bool Contains(const EdgeSite& site_of_dnai, const Location& location) const;
};

// One traffic-influence request of an `exposure` platform (after TS 29.522 TrafficInfluSub).
struct TrafficInfluence {
  std::string id;
  std::set<std::string> accounts;  // empty with any_account
  bool any_account = false;
  std::vector<std::string> dnais;  // candidate DNAIs; the one serving the location is chosen
  std::vector<std::string> tais;   // spatial validity; both empty: the DNAIs' service areas
  std::vector<std::string> cells;
  TemporalValidity validity;
  NotificationTarget notification;
  std::int64_t created_ms = 0;

  bool Targets(const std::string& account) const {
    return any_account || accounts.count(account) != 0;
  }
};

struct Policy {
  PolicyKind kind = PolicyKind::kLocation;
  std::vector<Area> areas;             // location kinds
  std::set<std::string> accounts;      // location_subscription
  std::set<std::string> applications;  // location_application
  TemporalValidity validity;
  NotificationTarget notification;
  std::vector<TrafficInfluence> requests;  // exposure
  std::uint64_t next_request = 1;
  std::int64_t updated_ms = 0;

  const TrafficInfluence* FindRequest(std::string_view id) const;
};

// Reads a PUT body `{kind, params}`. With a topology the parameters are checked against it; without
// one (a stored document read back) only their shape is.
Result<Policy> ParsePolicyRequest(const boost::json::object& body, const Topology* topology);
// Reads a POST traffic-influence body; the id and creation time are left to the caller.
Result<TrafficInfluence> ParseTrafficInfluence(const boost::json::object& body,
                                               const Topology* topology);

// The stored document: `{kind, params, updated_at, traffic_influence, next_request}`.
std::string StoredPolicyJson(const Policy& policy);
Result<Policy> ParseStoredPolicy(std::string_view json);

boost::json::object PolicyJson(const Policy& policy);
boost::json::object TrafficInfluenceJson(const TrafficInfluence& request);

// The catalog of kinds and their parameters, for GET /v1/offload-policies.
boost::json::array PolicyCatalogJson();

}  // namespace sb::offload
