#include "offload/nef.h"

#include <algorithm>

namespace sb::offload {

Result<Policy> Nef::ExposurePolicy(const std::string& platform_id) {
  std::optional<Policy> policy = policies_.Latest(platform_id);
  if (!policy || policy->kind != PolicyKind::kExposure)
    return MakeError(ErrorCode::kConflict,
                     "traffic-influence requests need the offload policy kind 'exposure'; PUT "
                     "/v1/platforms/" +
                         platform_id + "/offload-policy {\"kind\":\"exposure\"} first");
  return std::move(*policy);
}

void Nef::CreateTrafficInfluence(const std::string& platform_id, TrafficInfluence request,
                                 registry::Done<TrafficInfluence> done) {
  auto policy = ExposurePolicy(platform_id);
  if (!policy) return done(policy.error());
  Policy& updated = policy.value();
  request.id = "ti" + std::to_string(updated.next_request++);
  request.created_ms = clock_();
  updated.requests.push_back(request);
  policies_.Put(platform_id, std::move(updated),
                [done = std::move(done), request](Result<Policy> stored) {
                  if (!stored) return done(stored.error());
                  done(request);
                });
}

void Nef::DeleteTrafficInfluence(const std::string& platform_id, const std::string& request_id,
                                 registry::Done<Ok> done) {
  auto policy = ExposurePolicy(platform_id);
  if (!policy) return done(policy.error());
  auto& requests = policy.value().requests;
  auto it = std::find_if(requests.begin(), requests.end(),
                         [&](const TrafficInfluence& r) { return r.id == request_id; });
  if (it == requests.end())
    return done(MakeError(ErrorCode::kNotFound,
                          "no traffic-influence request '" + request_id + "' on this platform"));
  requests.erase(it);
  policies_.Put(platform_id, std::move(policy).value(),
                [done = std::move(done)](Result<Policy> stored) {
                  if (!stored) return done(stored.error());
                  done(Ok{});
                });
}

std::vector<TrafficInfluence> Nef::TrafficInfluenceOf(const std::string& platform_id) {
  std::optional<Policy> policy = policies_.Latest(platform_id);
  if (!policy || policy->kind != PolicyKind::kExposure) return {};
  return policy->requests;
}

}  // namespace sb::offload
