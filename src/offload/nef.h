// The NEF: the exposure function between the network and applications. It relays the AMF's
// location reports to the MEC (UE location exposure, 3GPP TS 23.502 4.15.3), and it is the entry
// point of an `exposure` platform's traffic-influence requests (TS 23.502 4.3.6.2), which it
// checks and stores in the policy table.
//
// Thread-safety: single-threaded (the loop thread); `done` callbacks run there too.
#pragma once

#include <string>
#include <vector>

#include "offload/mec.h"
#include "offload/path.h"
#include "offload/policy_table.h"

namespace sb::offload {

class Nef {
 public:
  // Everything given must outlive the NEF.
  Nef(Mec& mec, PolicyTable& policies, Clock clock)
      : mec_(mec), policies_(policies), clock_(std::move(clock)) {}

  PathChange OnLocationEvent(const TerminalRef& terminal, const Location& location) {
    return mec_.OnLocationEvent(terminal, location);
  }

  // Stores a new request (its id assigned here) of a platform whose policy kind is `exposure`.
  // Codes: kConflict (the platform's policy is not exposure).
  void CreateTrafficInfluence(const std::string& platform_id, TrafficInfluence request,
                              registry::Done<TrafficInfluence> done);
  // Codes: kNotFound (no such request), kConflict.
  void DeleteTrafficInfluence(const std::string& platform_id, const std::string& request_id,
                              registry::Done<Ok> done);
  std::vector<TrafficInfluence> TrafficInfluenceOf(const std::string& platform_id);

 private:
  Result<Policy> ExposurePolicy(const std::string& platform_id);

  Mec& mec_;
  PolicyTable& policies_;
  Clock clock_;
};

}  // namespace sb::offload
