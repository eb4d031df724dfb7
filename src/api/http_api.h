// The HTTP API of the exchange: platform registration and account sync, key rotation, the
// directory, enrollment tokens, terminal views, health and metrics.
//
// Every error answer is `{"error":{"code":..,"message":..}}` with the status that fits the code.
// Who may call what: the operator (operator token), a platform (its own key, on its own resources
// only), or the holder of an unused enrollment token (registration only).
//
// Failed authentication: a /v1 call with no credential or one that is not valid (a wrong operator
// token, platform key or enrollment token) takes a token from its source IP's bucket
// (`auth_failure_rate`). While that bucket is empty, every /v1 call from the IP, with whatever
// credential, is answered 429 `rate_limited` with Retry-After whether or not its credential is
// valid, so that the answers tell nothing about credentials tried meanwhile. /healthz and /metrics
// are not affected.
//
// Thread-safety: every call runs on the loop thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "delivery/exchange.h"
#include "net/server.h"
#include "registry/registry.h"

namespace sb::api {

class OffloadApi;
class TopologyView;

struct HttpApiOptions {
  std::string operator_token;
  std::int64_t default_enrollment_ttl_s = 24 * 3600;
  std::int64_t max_enrollment_ttl_s = 30LL * 24 * 3600;
  // Calls a second (and burst) per platform key; beyond it, 429 `rate_limited` with Retry-After.
  // Rate 0: no limit. The operator is not limited.
  delivery::RateLimit platform_call_rate;
  // Failed authentications a second (and burst) per source IP; rate 0: no limit.
  delivery::RateLimit auth_failure_rate;
  std::function<std::int64_t()> monotonic_ms = delivery::ExchangeOptions::SteadyMillis;
};

class HttpApi {
 public:
  HttpApi(registry::Registry& registry, delivery::Exchange& exchange, MetricsRegistry& metrics,
          HttpApiOptions options);
  ~HttpApi();

  void Handle(net::HttpRequest request, net::Respond respond);

  // Answers 503 `unavailable` to everything but /healthz and /metrics while false.
  void SetReady(bool ready) { ready_ = ready; }
  // Offload's endpoints and terminal details; null (the default) leaves them out. Must outlive
  // this.
  void SetOffloadApi(OffloadApi* offload_api) { offload_api_ = offload_api; }
  // The operator's topology page and its state (api/topology_view.h); null leaves them out. Must
  // outlive this.
  void SetTopologyView(TopologyView* view) { topology_view_ = view; }

 private:
  struct Call;
  struct Caller;

  Caller Identify(const net::HttpRequest& request) const;
  void Dispatch(Call& call);

  void CreateEnrollment(Call& call);
  void RegisterPlatform(Call& call);
  void GetPlatform(Call& call, const registry::Platform& platform);
  void DeletePlatform(Call& call, const std::string& platform_id);
  void PutJwks(Call& call, const std::string& platform_id);
  void ChangeAccounts(Call& call, const std::string& platform_id);
  void ListAccounts(Call& call, const registry::Platform& platform);
  void Directory(Call& call);
  void Terminals(Call& call, const std::string& platform_id, const std::string& account);
  void Metrics(Call& call);
  bool AdmitPlatformCall(Call& call);
  bool AdmitFromAddress(Call& call);
  void RefuseCredential(Call& call, const Error& error);

  registry::Registry& registry_;
  delivery::Exchange& exchange_;
  MetricsRegistry& metrics_;
  HttpApiOptions options_;
  bool ready_ = true;
  OffloadApi* offload_api_ = nullptr;
  TopologyView* topology_view_ = nullptr;
  delivery::KeyedRateLimiter call_limiter_;
  delivery::KeyedRateLimiter auth_failure_limiter_;  // by source IP
};

}  // namespace sb::api
