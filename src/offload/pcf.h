// The PCF: decides, from a terminal's location and its platform's policy (spatial, temporal,
// subscription and application conditions), whether its traffic is offloaded and to which edge
// site (UL CL UPF and the DNAI it serves), and sends that transmission policy to the SMF.
//
// In 3GPP TS 23.503 the PCF turns the AF request into PCC rules naming DNAIs, and the SMF then
// selects the UL CL and PSA for a DNAI (TS 23.502 4.3.6); here one UL CL serves each DNAI, so the
// PCF resolves the DNAI to its edge site itself.
//
// Thread-safety: single-threaded (the loop thread). Decide() is a pure function of its inputs.
#pragma once

#include "offload/path.h"
#include "offload/policy.h"
#include "offload/smf.h"

namespace sb::offload {

class Pcf {
 public:
  // `topology` and `smf` must outlive the PCF.
  Pcf(const Topology& topology, Smf& smf, Clock clock)
      : topology_(topology), smf_(smf), clock_(std::move(clock)) {}

  // A policy (null: the platform has none) and the terminal's location, from the MEC.
  PathChange OnPolicyUpdate(const TerminalRef& terminal, const Location& location,
                            const Policy* policy);

  // The decision for one terminal at `now_ms`.
  Decision Decide(const Address& address, const Location& location, const Policy* policy,
                  std::int64_t now_ms) const;

 private:
  Decision DecideByArea(const Address& address, const Location& location,
                        const Policy& policy) const;
  Decision DecideExposure(const Address& address, const Location& location, const Policy& policy,
                          std::int64_t now_ms) const;

  const Topology& topology_;
  Smf& smf_;
  Clock clock_;
};

}  // namespace sb::offload
