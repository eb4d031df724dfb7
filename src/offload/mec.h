// The MEC platform's policy function: on a terminal's new location (from the NEF) it looks up the
// target policy of the terminal's platform in the policy table and sends policy and location to the
// PCF. Stands for the AF of 3GPP TS 23.548 (edge computing) that talks to the core through the NEF.
//
// Thread-safety: single-threaded (the loop thread).
#pragma once

#include "offload/path.h"
#include "offload/pcf.h"
#include "offload/policy_table.h"

namespace sb::offload {

class Mec {
 public:
  // `policies` and `pcf` must outlive the MEC.
  Mec(PolicyTable& policies, Pcf& pcf) : policies_(policies), pcf_(pcf) {}

  PathChange OnLocationEvent(const TerminalRef& terminal, const Location& location) {
    const Policy* policy = policies_.Find(terminal.address.platform);
    return pcf_.OnPolicyUpdate(terminal, location, policy);
  }

 private:
  PolicyTable& policies_;
  Pcf& pcf_;
};

}  // namespace sb::offload
