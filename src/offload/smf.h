// The SMF: holds each terminal's user-plane path and, on a transmission-policy update from the
// PCF, sends the policy-enable instruction to the target UL CL UPF (and releases the rule at the
// previous one). Reports every change to a PathObserver, early before the switch and late after.
//
// In 3GPP TS 23.502 4.3.6 the SMF itself selects the UL CL and local PSA from the DNAI in the PCC
// rule; here the PCF's decision already names the edge site (one UL CL per DNAI), so the SMF only
// instructs it.
//
// Thread-safety: single-threaded (the loop thread).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "offload/path.h"
#include "offload/ulcl_upf.h"

namespace sb::offload {

class Smf {
 public:
  // `topology` must outlive the SMF.
  Smf(const Topology& topology, Clock clock);

  void SetObserver(PathObserver* observer) { observer_ = observer; }

  // Applies the PCF's decision for one terminal and returns how its path changed.
  PathChange OnTransmissionPolicy(const TerminalRef& terminal, const Location& location,
                                  const Decision& decision);
  // The terminal is gone: its rule is released and its path forgotten, without a notification.
  void Release(TerminalId terminal);

  // The path of a terminal; a terminal never evaluated is on the main anchor.
  Path PathOf(TerminalId terminal) const;
  // The egress of one message: the local PSA when the terminal's UL CL branches `app`, else main.
  Route SelectRoute(TerminalId terminal, std::string_view app) const;
  const UlclUpf* UpfAt(const std::string& site) const;

 private:
  Path MainPath() const;
  Path PathFor(const Decision& decision, const Path& before, std::int64_t now) const;
  void Switch(TerminalId terminal, const Path& before, const Path& after);

  const Topology& topology_;
  Clock clock_;
  PathObserver* observer_ = nullptr;
  std::map<std::string, std::unique_ptr<UlclUpf>> upfs_;  // by edge site
  std::unordered_map<TerminalId, Path> paths_;
};

}  // namespace sb::offload
