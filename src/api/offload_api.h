// The HTTP endpoints of offload, called from HttpApi::Dispatch once the caller is identified and
// the body parsed:
//
//   GET    /v1/offload-policies                          platform, operator: kinds and topology
//   GET    /v1/platforms/{pid}/offload-policy            that platform, operator
//   PUT    /v1/platforms/{pid}/offload-policy            that platform: {kind, params}
//   DELETE /v1/platforms/{pid}/offload-policy            that platform
//   POST   /v1/platforms/{pid}/traffic-influence         that platform (kind exposure)
//   GET    /v1/platforms/{pid}/traffic-influence[/{id}]  that platform, operator
//   DELETE /v1/platforms/{pid}/traffic-influence/{id}    that platform
//   POST   /v1/network/location-reports                  operator: {platform, account, tai, cell}
//
// It also adds each terminal's location and path to the terminals view. docs/offload.md has the
// shapes.
//
// Thread-safety: every call runs on the loop thread.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "net/server.h"
#include "offload/offload_service.h"
#include "registry/registry.h"

namespace sb::api {

// A location as the views show it: `{tai, cell}` (cell null when unknown), or null when unknown.
boost::json::value LocationJson(const offload::Location& location);
// A terminal's path as the views show it (docs/offload.md, terminals view).
boost::json::object PathJson(const offload::Path& path);

// One request, as HttpApi has read it.
struct OffloadCall {
  const std::string& method;
  const std::vector<std::string>& segments;  // decoded path segments, "v1" first
  bool is_operator = false;
  const registry::Platform* platform = nullptr;  // the calling platform, if a platform calls
  const boost::json::object& body;
  net::Respond respond;
};

class OffloadApi {
 public:
  // Both must outlive the API.
  OffloadApi(registry::Registry& registry, offload::OffloadService& offload)
      : registry_(registry), offload_(offload) {}

  // Answers the call and returns true when the path is one of offload's; false otherwise.
  bool Dispatch(const OffloadCall& call);

  // Adds `location` and `path` of one terminal to its entry in the terminals view.
  void AddTerminalDetails(std::uint64_t terminal, const Address& address,
                          boost::json::object& entry);
  offload::OffloadService& service() { return offload_; }

 private:
  void Catalog(const OffloadCall& call);
  void GetPolicy(const OffloadCall& call, const std::string& platform_id);
  void PutPolicy(const OffloadCall& call, const std::string& platform_id);
  void DeletePolicy(const OffloadCall& call, const std::string& platform_id);
  void TrafficInfluence(const OffloadCall& call, const std::string& platform_id, bool own);
  void CreateTrafficInfluence(const OffloadCall& call, const std::string& platform_id);
  void LocationReport(const OffloadCall& call);

  registry::Registry& registry_;
  offload::OffloadService& offload_;
};

}  // namespace sb::api
