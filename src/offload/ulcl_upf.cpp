#include "offload/ulcl_upf.h"

namespace sb::offload {

void UlclUpf::Enable(TerminalId terminal, std::set<std::string> applications) {
  rules_[terminal] = std::move(applications);
}

void UlclUpf::Release(TerminalId terminal) {
  rules_.erase(terminal);
}

std::optional<std::string> UlclUpf::SelectPsa(TerminalId terminal, std::string_view app) const {
  auto rule = rules_.find(terminal);
  if (rule == rules_.end()) return std::nullopt;
  const auto& apps = rule->second;
  if (!apps.empty() && apps.find(std::string(app)) == apps.end()) return std::nullopt;
  return site_.psa;
}

}  // namespace sb::offload
