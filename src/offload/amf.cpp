#include "offload/amf.h"

namespace sb::offload {

std::vector<PathChange> Amf::ReportAccountLocation(const Address& address,
                                                   const Location& location) {
  last_location_[address] = location;
  std::vector<PathChange> changes;
  for (TerminalId id : lister_(address)) {
    Ue& ue = terminals_[id];
    ue.ref = TerminalRef{id, address};
    ue.location = location;
    changes.push_back(nef_.OnLocationEvent(ue.ref, location));
  }
  return changes;
}

PathChange Amf::ReportTerminalLocation(const TerminalRef& terminal, const Location& location) {
  last_location_[terminal.address] = location;
  terminals_[terminal.id] = Ue{terminal, location};
  return nef_.OnLocationEvent(terminal, location);
}

PathChange Amf::Register(const TerminalRef& terminal) {
  Location location;
  if (auto last = last_location_.find(terminal.address); last != last_location_.end())
    location = last->second;
  terminals_[terminal.id] = Ue{terminal, location};
  return nef_.OnLocationEvent(terminal, location);
}

Location Amf::LocationOf(TerminalId terminal) const {
  auto it = terminals_.find(terminal);
  return it == terminals_.end() ? Location{} : it->second.location;
}

std::vector<TerminalRef> Amf::Terminals() const {
  std::vector<TerminalRef> refs;
  refs.reserve(terminals_.size());
  for (const auto& [id, ue] : terminals_)
    refs.push_back(ue.ref);
  return refs;
}

std::vector<Address> Amf::LocatedAccounts() const {
  std::vector<Address> accounts;
  accounts.reserve(last_location_.size());
  for (const auto& [address, location] : last_location_)
    accounts.push_back(address);
  return accounts;
}

}  // namespace sb::offload
