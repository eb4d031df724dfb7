#include "offload/pcf.h"

#include <algorithm>

namespace sb::offload {
namespace {

Decision MainAnchor(const Policy* policy, const char* code, std::string reason) {
  Decision decision;
  if (policy != nullptr) {
    decision.kind = policy->kind;
    decision.notification = policy->notification;
  }
  decision.reason_code = code;
  decision.reason = std::move(reason);
  return decision;
}

std::string Describe(const Location& location) {
  return location.cell.empty() ? "tai " + location.tai
                               : "cell " + location.cell + " (tai " + location.tai + ")";
}

// Why a validity window does not cover `now`, or null when it does.
const char* OutsideValidity(const TemporalValidity& validity, std::int64_t now_ms) {
  if (validity.Covers(now_ms)) return nullptr;
  return validity.start_ms != 0 && now_ms < validity.start_ms ? reason::kNotYetValid
                                                              : reason::kValidityExpired;
}

bool InSpatialValidity(const TrafficInfluence& request, const Location& location) {
  if (request.tais.empty() && request.cells.empty()) return true;
  auto has = [](const std::vector<std::string>& list, const std::string& value) {
    return !value.empty() && std::find(list.begin(), list.end(), value) != list.end();
  };
  return has(request.cells, location.cell) || has(request.tais, location.tai);
}

}  // namespace

PathChange Pcf::OnPolicyUpdate(const TerminalRef& terminal, const Location& location,
                               const Policy* policy) {
  return smf_.OnTransmissionPolicy(terminal, location,
                                   Decide(terminal.address, location, policy, clock_()));
}

Decision Pcf::Decide(const Address& address, const Location& location, const Policy* policy,
                     std::int64_t now_ms) const {
  if (policy == nullptr)
    return MainAnchor(nullptr, reason::kNoPolicy,
                      "platform '" + address.platform + "' has no offload policy");
  if (const char* outside = OutsideValidity(policy->validity, now_ms))
    return MainAnchor(policy, outside, "the policy's temporal validity does not cover now");
  if (!location.Known())
    return MainAnchor(policy, reason::kNoLocation, "the terminal's location is not known");
  if (policy->kind == PolicyKind::kExposure)
    return DecideExposure(address, location, *policy, now_ms);
  return DecideByArea(address, location, *policy);
}

Decision Pcf::DecideByArea(const Address& address, const Location& location,
                           const Policy& policy) const {
  if (policy.kind == PolicyKind::kLocationSubscription &&
      policy.accounts.count(address.account) == 0)
    return MainAnchor(&policy, reason::kNotSubscribed,
                      "account '" + address.account + "' is not subscribed to offload");

  const EdgeSite* serving = topology_.SiteServing(location);
  for (std::size_t i = 0; i < policy.areas.size(); ++i) {
    const Area& area = policy.areas[i];
    const EdgeSite* edge = topology_.FindByDnai(area.dnai);
    if (edge == nullptr || edge != serving || !area.Contains(*edge, location)) continue;
    Decision decision = MainAnchor(&policy, reason::kAreaMatch, "");
    decision.edge = edge;
    if (policy.kind == PolicyKind::kLocationSubscription)
      decision.reason_code = reason::kSubscriberInArea;
    if (policy.kind == PolicyKind::kLocationApplication) {
      decision.reason_code = reason::kApplicationsInArea;
      decision.applications = policy.applications;
    }
    decision.reason =
        Describe(location) + " is in areas[" + std::to_string(i) + "] (" + area.dnai + ")";
    return decision;
  }
  return MainAnchor(&policy, reason::kOutsideArea,
                    Describe(location) + " is in no area of the policy");
}

Decision Pcf::DecideExposure(const Address& address, const Location& location, const Policy& policy,
                             std::int64_t now_ms) const {
  const EdgeSite* serving = topology_.SiteServing(location);
  const char* why = reason::kNoRequest;
  for (const TrafficInfluence& request : policy.requests) {
    if (!request.Targets(address.account)) continue;
    why = reason::kOutsideArea;
    if (const char* outside = OutsideValidity(request.validity, now_ms)) {
      why = outside;
      continue;
    }
    const bool dnai_serves =
        serving != nullptr &&
        std::find(request.dnais.begin(), request.dnais.end(), serving->dnai) != request.dnais.end();
    if (!dnai_serves || !InSpatialValidity(request, location)) continue;
    Decision decision = MainAnchor(&policy, reason::kRequestMatch, "");
    decision.edge = serving;
    decision.request_id = request.id;
    if (!request.notification.url.empty()) decision.notification = request.notification;
    decision.reason = "traffic-influence request " + request.id + " covers " + Describe(location) +
                      " (" + serving->dnai + ")";
    return decision;
  }
  if (why == reason::kNoRequest)
    return MainAnchor(&policy, why,
                      "no traffic-influence request targets account '" + address.account + "'");
  if (why == reason::kOutsideArea)
    return MainAnchor(&policy, why, Describe(location) + " is outside every request's area");
  return MainAnchor(&policy, why, "no request targeting the account is valid now");
}

}  // namespace sb::offload
