// The AMF: knows where each terminal is (its TAI and cell) and reports every location change
// through the NEF (3GPP TS 23.502 4.15.4, AMF location events). Locations come from the operator's
// location reports (for every connected terminal of an account) and from terminals' own `location`
// frames. The account's last location is remembered, so a terminal that connects later starts
// there.
//
// Thread-safety: single-threaded (the loop thread).
#pragma once

#include <functional>
#include <unordered_map>
#include <vector>

#include "offload/nef.h"
#include "offload/path.h"

namespace sb::offload {

// The connected terminals of an account (given by the exchange, which offload does not include).
using TerminalLister = std::function<std::vector<TerminalId>(const Address& address)>;

class Amf {
 public:
  // `nef` must outlive the AMF.
  Amf(Nef& nef, TerminalLister lister) : nef_(nef), lister_(std::move(lister)) {}

  // The account is at `location`: every connected terminal of it moves there.
  std::vector<PathChange> ReportAccountLocation(const Address& address, const Location& location);
  // One terminal reported its own location.
  PathChange ReportTerminalLocation(const TerminalRef& terminal, const Location& location);
  // A terminal seen for the first time: it starts at its account's last location (if known).
  PathChange Register(const TerminalRef& terminal);
  void Deregister(TerminalId terminal) { terminals_.erase(terminal); }

  bool Knows(TerminalId terminal) const { return terminals_.count(terminal) != 0; }
  Location LocationOf(TerminalId terminal) const;
  // Every known terminal, for re-evaluation and pruning.
  std::vector<TerminalRef> Terminals() const;
  // Accounts with a remembered location, to find terminals that connected since.
  std::vector<Address> LocatedAccounts() const;
  std::vector<TerminalId> ConnectedTerminals(const Address& address) const {
    return lister_(address);
  }

 private:
  struct Ue {
    TerminalRef ref;
    Location location;
  };

  Nef& nef_;
  TerminalLister lister_;
  std::unordered_map<TerminalId, Ue> terminals_;
  std::unordered_map<Address, Location, AddressHash> last_location_;
};

}  // namespace sb::offload
