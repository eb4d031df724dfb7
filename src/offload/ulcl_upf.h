// The UL CL UPF of one edge site: it holds, per terminal, the traffic rule the SMF enabled, and
// branches matching uplink traffic to the site's local PSA; everything else goes on to the main
// PSA. Stands for the UL CL and local PSA of 3GPP TS 23.501 5.6.4.2 (no GTP-U, no PFCP: the rule
// is a table entry and "forwarding" is the route recorded on each message).
//
// Thread-safety: single-threaded (the loop thread).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "offload/path.h"

namespace sb::offload {

class UlclUpf {
 public:
  explicit UlclUpf(const EdgeSite& site) : site_(site) {}

  // The policy-enable instruction: branch this terminal's traffic (only `applications`, when not
  // empty) to the local PSA. Replaces an earlier rule of the terminal.
  void Enable(TerminalId terminal, std::set<std::string> applications);
  void Release(TerminalId terminal);

  // The PSA where this terminal's traffic of `app` egresses: the local PSA when a rule matches,
  // nullopt (the main PSA) otherwise.
  std::optional<std::string> SelectPsa(TerminalId terminal, std::string_view app) const;
  bool HasRule(TerminalId terminal) const { return rules_.count(terminal) != 0; }
  std::size_t RuleCount() const { return rules_.size(); }
  const EdgeSite& site() const { return site_; }

 private:
  const EdgeSite& site_;
  std::unordered_map<TerminalId, std::set<std::string>> rules_;  // terminal -> app filter
};

}  // namespace sb::offload
