// What flows along the offload chain (AMF -> NEF -> MEC -> PCF -> SMF -> UL CL UPF), and what comes
// out of it: a terminal's user-plane path and how it changed. Plain data.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/identity.h"
#include "core/message.h"
#include "offload/policy.h"
#include "offload/topology.h"

namespace sb::offload {

using TerminalId = std::uint64_t;
// Milliseconds since the Unix epoch; injectable so tests can move time.
using Clock = std::function<std::int64_t()>;

// One connected terminal (one WebSocket session) and the account it speaks for.
struct TerminalRef {
  TerminalId id = 0;
  Address address;
};

// How a decision changed a terminal's path.
enum class Outcome {
  kInserted,   // main anchor -> an edge site: a UL CL and local PSA were inserted
  kRelocated,  // one edge site -> another
  kRemoved,    // an edge site -> main anchor
  kUnchanged,
};
std::string_view OutcomeName(Outcome outcome);

// Stable reason codes of decisions (metric labels); the decision's `reason` says it for people.
namespace reason {
inline constexpr const char* kNoPolicy = "no_policy";
inline constexpr const char* kNoLocation = "no_location";
inline constexpr const char* kOutsideArea = "outside_area";
inline constexpr const char* kNotSubscribed = "not_subscribed";
inline constexpr const char* kNoRequest = "no_request";
inline constexpr const char* kNotYetValid = "not_yet_valid";
inline constexpr const char* kValidityExpired = "validity_expired";
inline constexpr const char* kAreaMatch = "area_match";
inline constexpr const char* kSubscriberInArea = "subscriber_in_area";
inline constexpr const char* kApplicationsInArea = "applications_in_area";
inline constexpr const char* kRequestMatch = "request_match";
}  // namespace reason

// The PCF's transmission policy for one terminal.
struct Decision {
  const EdgeSite* edge = nullptr;  // null: egress at the main anchor
  std::optional<PolicyKind> kind;  // the platform's policy kind, when it has one
  std::string reason_code;
  std::string reason;
  std::set<std::string> applications;  // the traffic the UL CL branches; empty: all of it
  std::string request_id;              // the traffic-influence request that matched
  NotificationTarget notification;
};

// A terminal's user-plane path, as the SMF holds it.
struct Path {
  Route route;  // the edge route when offloaded, else the main route
  bool offloaded = false;
  std::optional<PolicyKind> kind;
  std::set<std::string> applications;
  std::string request_id;
  std::string reason_code;
  std::string reason;
  NotificationTarget notification;
  std::int64_t since_ms = 0;
};

// The result of running the chain for one terminal.
struct PathChange {
  TerminalRef terminal;
  Location location;
  Path before;
  Path after;
  Outcome outcome = Outcome::kUnchanged;
};

// Told by the SMF around each path switch (not for unchanged paths). Early comes before the UL CL
// switches, late after (3GPP TS 23.502 4.3.6.3 early and late notification).
class PathObserver {
 public:
  virtual ~PathObserver() = default;
  virtual void OnPathChanging(const PathChange& change) = 0;
  virtual void OnPathChanged(const PathChange& change) = 0;
};

}  // namespace sb::offload
