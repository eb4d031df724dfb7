#include "api/offload_api.h"

#include <boost/json.hpp>

namespace sb::api {
namespace json = boost::json;
namespace {

net::HttpResponse JsonReply(int status, const json::value& body) {
  net::HttpResponse response;
  response.status = status;
  response.body = json::serialize(body);
  return response;
}

net::HttpResponse ErrorReply(const Error& error) {
  return JsonReply(HttpStatusFor(error.code),
                   json::object{{"error", json::object{{"code", ErrorCodeName(error.code)},
                                                       {"message", error.message}}}});
}

json::object TopologyJson(const offload::Topology& topology) {
  json::array edges;
  for (const auto& edge : topology.edges()) {
    json::array tais(edge.tais.begin(), edge.tais.end());
    json::array cells(edge.cells.begin(), edge.cells.end());
    edges.push_back(json::object{{"site", edge.site},
                                 {"city", edge.city},
                                 {"dnai", edge.dnai},
                                 {"ulcl", edge.ulcl},
                                 {"psa", edge.psa},
                                 {"tais", std::move(tais)},
                                 {"cells", std::move(cells)},
                                 {"latency_to_main_ms", edge.latency_to_main_ms},
                                 {"latency_local_ms", edge.latency_local_ms}});
  }
  const auto& main = topology.main();
  return json::object{
      {"main", json::object{{"site", main.site}, {"dnai", main.dnai}, {"psa", main.psa}}},
      {"edges", std::move(edges)},
      {"uncovered_tais",
       json::array(topology.uncovered_tais().begin(), topology.uncovered_tais().end())}};
}

// A required non-empty string member, or an `invalid_params` error naming it.
Result<std::string> RequiredString(const json::object& body, std::string_view key) {
  const json::value* value = body.if_contains(key);
  if (value == nullptr || !value->is_string() || value->get_string().empty())
    return MakeError(ErrorCode::kInvalidParams,
                     "'" + std::string(key) + "' must be a non-empty string");
  return std::string(value->get_string());
}

Error Forbidden() {
  return MakeError(ErrorCode::kForbidden, "this credential does not open this resource");
}

Error NotAllowed() {
  return MakeError(ErrorCode::kMethodNotAllowed, "method not allowed on this resource");
}

}  // namespace

json::value LocationJson(const offload::Location& location) {
  if (!location.Known()) return nullptr;
  return json::object{
      {"tai", location.tai},
      {"cell", location.cell.empty() ? json::value(nullptr) : json::value(location.cell)}};
}

json::object PathJson(const offload::Path& path) {
  json::array applications;
  for (const auto& app : path.applications)
    applications.emplace_back(app);
  return json::object{
      {"site", path.route.site},
      {"dnai", path.route.dnai},
      {"ulcl", path.route.ulcl},
      {"psa", path.route.psa},
      {"offloaded", path.offloaded},
      {"policy_kind",
       path.kind ? json::value(offload::PolicyKindName(*path.kind)) : json::value(nullptr)},
      {"applications", std::move(applications)},
      {"request_id", path.request_id.empty() ? json::value(nullptr) : json::value(path.request_id)},
      {"reason_code", path.reason_code},
      {"reason", path.reason},
      {"since", path.since_ms}};
}

bool OffloadApi::Dispatch(const OffloadCall& call) {
  const auto& s = call.segments;
  const bool is_platform = call.platform != nullptr;
  auto fail = [&](const Error& error) { call.respond(ErrorReply(error)); };

  if (s.size() == 2 && s[1] == "offload-policies") {
    if (call.method != "GET")
      fail(NotAllowed());
    else if (!call.is_operator && !is_platform)
      fail(Forbidden());
    else
      Catalog(call);
    return true;
  }
  if (s.size() == 3 && s[1] == "network" && s[2] == "location-reports") {
    if (call.method != "POST")
      fail(NotAllowed());
    else if (!call.is_operator)
      fail(Forbidden());
    else
      LocationReport(call);
    return true;
  }

  // The platform's own resources: /v1/platforms/{pid}/offload-policy and /traffic-influence[/id].
  const bool policy_path = s.size() == 4 && s[1] == "platforms" && s[3] == "offload-policy";
  const bool influence_path =
      (s.size() == 4 || s.size() == 5) && s[1] == "platforms" && s[3] == "traffic-influence";
  if (!policy_path && !influence_path) return false;
  const std::string& platform_id = s[2];
  const bool own = is_platform && call.platform->id == platform_id;
  if (!call.is_operator && !own) {
    fail(Forbidden());
    return true;
  }
  if (registry_.Find(platform_id) == nullptr) {
    fail(MakeError(ErrorCode::kPlatformNotRegistered,
                   "platform '" + platform_id + "' is not registered"));
    return true;
  }
  if (influence_path) {
    TrafficInfluence(call, platform_id, own);
    return true;
  }
  if (call.method == "GET")
    GetPolicy(call, platform_id);
  else if (call.method != "PUT" && call.method != "DELETE")
    fail(NotAllowed());
  else if (!own)
    fail(Forbidden());
  else if (call.method == "PUT")
    PutPolicy(call, platform_id);
  else
    DeletePolicy(call, platform_id);
  return true;
}

void OffloadApi::Catalog(const OffloadCall& call) {
  call.respond(JsonReply(200, json::object{{"kinds", offload::PolicyCatalogJson()},
                                           {"topology", TopologyJson(offload_.topology())}}));
}

void OffloadApi::GetPolicy(const OffloadCall& call, const std::string& platform_id) {
  const offload::Policy* policy = offload_.policies().Find(platform_id);
  if (policy == nullptr) {
    call.respond(ErrorReply(
        MakeError(ErrorCode::kNotFound, "platform '" + platform_id + "' has no offload policy")));
    return;
  }
  call.respond(JsonReply(200, offload::PolicyJson(*policy)));
}

void OffloadApi::PutPolicy(const OffloadCall& call, const std::string& platform_id) {
  auto policy = offload::ParsePolicyRequest(call.body, &offload_.topology());
  if (!policy) return call.respond(ErrorReply(policy.error()));

  // An exposure policy keeps the requests it already had; another kind drops them.
  std::optional<offload::Policy> previous = offload_.policies().Latest(platform_id);
  if (previous && previous->kind == offload::PolicyKind::kExposure &&
      policy.value().kind == offload::PolicyKind::kExposure) {
    policy.value().requests = std::move(previous->requests);
    policy.value().next_request = previous->next_request;
  }
  offload_.policies().Put(platform_id, std::move(policy).value(),
                          [respond = call.respond](Result<offload::Policy> stored) {
                            if (!stored) return respond(ErrorReply(stored.error()));
                            respond(JsonReply(200, offload::PolicyJson(stored.value())));
                          });
}

void OffloadApi::DeletePolicy(const OffloadCall& call, const std::string& platform_id) {
  offload_.policies().Remove(platform_id, [respond = call.respond, platform_id](Status status) {
    if (!status) return respond(ErrorReply(status.error()));
    respond(
        JsonReply(200, json::object{{"platform_id", platform_id}, {"offload_policy", nullptr}}));
  });
}

void OffloadApi::TrafficInfluence(const OffloadCall& call, const std::string& platform_id,
                                  bool own) {
  const auto& s = call.segments;
  auto fail = [&](const Error& error) { call.respond(ErrorReply(error)); };
  if (s.size() == 4 && call.method == "POST")
    return own ? CreateTrafficInfluence(call, platform_id) : fail(Forbidden());
  if (call.method == "DELETE" && s.size() == 5) {
    if (!own) return fail(Forbidden());
    offload_.nef().DeleteTrafficInfluence(
        platform_id, s[4], [respond = call.respond, id = s[4]](Status status) {
          if (!status) return respond(ErrorReply(status.error()));
          respond(JsonReply(200, json::object{{"id", id}, {"deleted", true}}));
        });
    return;
  }
  if (call.method != "GET") return fail(NotAllowed());

  json::array requests;
  for (const auto& request : offload_.nef().TrafficInfluenceOf(platform_id)) {
    if (s.size() == 5 && request.id == s[4])
      return call.respond(JsonReply(200, offload::TrafficInfluenceJson(request)));
    requests.push_back(offload::TrafficInfluenceJson(request));
  }
  if (s.size() == 5)
    return fail(MakeError(ErrorCode::kNotFound, "no traffic-influence request '" + s[4] + "'"));
  call.respond(JsonReply(200, json::object{{"traffic_influence", std::move(requests)}}));
}

void OffloadApi::CreateTrafficInfluence(const OffloadCall& call, const std::string& platform_id) {
  auto request = offload::ParseTrafficInfluence(call.body, &offload_.topology());
  if (!request) return call.respond(ErrorReply(request.error()));
  offload_.nef().CreateTrafficInfluence(
      platform_id, std::move(request).value(),
      [respond = call.respond, platform_id](Result<offload::TrafficInfluence> created) {
        if (!created) return respond(ErrorReply(created.error()));
        json::object body = offload::TrafficInfluenceJson(created.value());
        body["self"] = "/v1/platforms/" + platform_id + "/traffic-influence/" + created.value().id;
        respond(JsonReply(201, body));
      });
}

void OffloadApi::LocationReport(const OffloadCall& call) {
  auto platform = RequiredString(call.body, "platform");
  auto account = RequiredString(call.body, "account");
  auto tai = RequiredString(call.body, "tai");
  for (const auto* field : {&platform, &account, &tai}) {
    if (!*field) return call.respond(ErrorReply(field->error()));
  }
  offload::Location location{tai.value(), {}};
  if (const json::value* cell = call.body.if_contains("cell"); cell && !cell->is_null()) {
    if (!cell->is_string())
      return call.respond(
          ErrorReply(MakeError(ErrorCode::kInvalidParams, "'cell' must be a string")));
    location.cell = std::string(cell->get_string());
  }

  // Who, then where: an unknown party is 404, an unknown place 422.
  const Address address{platform.value(), account.value()};
  if (registry_.Find(address.platform) == nullptr)
    return call.respond(
        ErrorReply(MakeError(ErrorCode::kPlatformNotRegistered,
                             "platform '" + address.platform + "' is not registered")));
  if (!registry_.HasAccount(address))
    return call.respond(ErrorReply(
        MakeError(ErrorCode::kNotFound,
                  "no account '" + address.account + "' on platform '" + address.platform + "'")));
  if (auto checked = offload_.topology().CheckLocation(location); !checked)
    return call.respond(ErrorReply(checked.error()));

  json::array terminals;
  for (const auto& change : offload_.ReportAccountLocation(address, location)) {
    terminals.push_back(json::object{{"session", std::to_string(change.terminal.id)},
                                     {"outcome", offload::OutcomeName(change.outcome)},
                                     {"path", PathJson(change.after)}});
  }
  call.respond(JsonReply(200, json::object{{"platform", address.platform},
                                           {"account", address.account},
                                           {"location", LocationJson(location)},
                                           {"terminals", std::move(terminals)}}));
}

void OffloadApi::AddTerminalDetails(std::uint64_t terminal, const Address& address,
                                    json::object& entry) {
  auto view = offload_.Describe(terminal, address);
  entry["location"] = LocationJson(view.location);
  entry["path"] = PathJson(view.path);
}

}  // namespace sb::api
