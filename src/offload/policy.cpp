#include "offload/policy.h"

#include <algorithm>
#include <boost/json.hpp>

#include "core/identity.h"
#include "offload/notifier.h"

namespace sb::offload {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxListItems = 10000;
constexpr std::size_t kMaxApplicationBytes = 64;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidParams, std::move(message));
}

// A list of non-empty strings under `key`; absent reads as empty.
Result<std::vector<std::string>> Strings(const json::object& object, std::string_view key,
                                         const std::string& where) {
  std::vector<std::string> out;
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return out;
  const std::string name = "'" + where + std::string(key) + "'";
  if (!value->is_array() || value->get_array().size() > kMaxListItems)
    return Invalid(name + " must be an array of at most 10000 strings");
  for (const json::value& item : value->get_array()) {
    if (!item.is_string() || item.get_string().empty())
      return Invalid(name + " must hold non-empty strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

Result<bool> Bool(const json::object& object, std::string_view key, bool fallback) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return fallback;
  if (!value->is_bool()) return Invalid("'" + std::string(key) + "' must be true or false");
  return value->get_bool();
}

Result<TemporalValidity> ReadValidity(const json::object& object) {
  TemporalValidity validity;
  const json::value* value = object.if_contains("temporal_validity");
  if (value == nullptr || value->is_null()) return validity;
  if (!value->is_object())
    return Invalid("'temporal_validity' must be an object {start, end} in ms since the epoch");
  for (auto [key, out] :
       {std::pair{"start", &validity.start_ms}, std::pair{"end", &validity.end_ms}}) {
    const json::value* bound = value->get_object().if_contains(key);
    if (bound == nullptr || bound->is_null()) continue;
    if (!bound->is_int64() || bound->get_int64() <= 0)
      return Invalid("'temporal_validity." + std::string(key) +
                     "' must be a positive integer (ms since the epoch)");
    *out = bound->get_int64();
  }
  if (validity.start_ms != 0 && validity.end_ms != 0 && validity.end_ms <= validity.start_ms)
    return Invalid("'temporal_validity.end' must come after 'temporal_validity.start'");
  return validity;
}

Result<NotificationTarget> ReadNotification(const json::object& object) {
  NotificationTarget target;
  if (const json::value* url = object.if_contains("notification_url");
      url != nullptr && !url->is_null()) {
    if (!url->is_string()) return Invalid("'notification_url' must be a string");
    target.url = std::string(url->get_string());
    if (auto parsed = ParseHttpUrl(target.url); !parsed) return parsed.error();
  }
  auto early = Bool(object, "early_notification", false);
  auto late = Bool(object, "late_notification", true);
  if (!early) return early.error();
  if (!late) return late.error();
  target.early = early.value();
  target.late = late.value();
  return target;
}

const EdgeSite* CheckDnai(const Topology* topology, const std::string& dnai,
                          const std::string& where, std::optional<Error>& error) {
  if (topology == nullptr) return nullptr;
  const EdgeSite* edge = topology->FindByDnai(dnai);
  if (edge == nullptr)
    error = Invalid(where + ": dnai '" + dnai + "' is not an edge DNAI of the exchange's topology");
  return edge;
}

// TAIs and cells must be known, and served by one of `sites` (the sites of the DNAIs they map to).
Status CheckPlaces(const Topology* topology, const std::vector<const EdgeSite*>& sites,
                   const std::vector<std::string>& tais, const std::vector<std::string>& cells,
                   const std::string& where) {
  if (topology == nullptr) return Ok{};
  auto served = [&](auto member, const std::string& value) {
    return std::any_of(sites.begin(), sites.end(),
                       [&](const EdgeSite* site) { return (site->*member)(value); });
  };
  for (const auto& tai : tais) {
    if (!topology->KnowsTai(tai))
      return Invalid(where + ": tai '" + tai + "' is not in the exchange's topology");
    if (!served(&EdgeSite::ServesTai, tai))
      return Invalid(where + ": tai '" + tai + "' is not served by the DNAI it is mapped to");
  }
  for (const auto& cell : cells) {
    if (!topology->KnowsCell(cell))
      return Invalid(where + ": cell '" + cell + "' is not in the exchange's topology");
    if (!served(&EdgeSite::ServesCell, cell))
      return Invalid(where + ": cell '" + cell + "' is not served by the DNAI it is mapped to");
  }
  return Ok{};
}

Result<Area> ReadArea(const json::value& value, std::size_t index, const Topology* topology) {
  const std::string where = "areas[" + std::to_string(index) + "]";
  if (!value.is_object()) return Invalid("'" + where + "' must be an object {dnai, tais, cells}");
  const json::object& object = value.get_object();
  const json::value* dnai = object.if_contains("dnai");
  if (dnai == nullptr || !dnai->is_string() || dnai->get_string().empty())
    return Invalid("'" + where + ".dnai' must be a non-empty string");
  Area area{std::string(dnai->get_string()), {}, {}};
  auto tais = Strings(object, "tais", where + ".");
  auto cells = Strings(object, "cells", where + ".");
  if (!tais) return tais.error();
  if (!cells) return cells.error();
  area.tais = std::move(tais).value();
  area.cells = std::move(cells).value();

  std::optional<Error> error;
  const EdgeSite* edge = CheckDnai(topology, area.dnai, where, error);
  if (error) return *error;
  if (auto places = CheckPlaces(topology, {edge}, area.tais, area.cells, where); !places)
    return places.error();
  return area;
}

Result<std::vector<Area>> ReadAreas(const json::object& params, const Topology* topology) {
  const json::value* value = params.if_contains("areas");
  if (value == nullptr || !value->is_array() || value->get_array().empty())
    return Invalid("'params.areas' must be a non-empty array of {dnai, tais, cells}");
  std::vector<Area> areas;
  for (std::size_t i = 0; i < value->get_array().size(); ++i) {
    auto area = ReadArea(value->get_array()[i], i, topology);
    if (!area) return area.error();
    areas.push_back(std::move(area).value());
  }
  return areas;
}

Result<std::set<std::string>> ReadAccounts(const json::object& params, bool required) {
  auto list = Strings(params, "accounts", "params.");
  if (!list) return list.error();
  if (required && list.value().empty())
    return Invalid("'params.accounts' must name at least one subscribed account");
  for (const auto& account : list.value()) {
    if (!IsValidAccount(account))
      return Invalid("account '" + account + "' is not a valid account");
  }
  return std::set<std::string>(list.value().begin(), list.value().end());
}

Result<std::set<std::string>> ReadApplications(const json::object& params) {
  auto list = Strings(params, "applications", "params.");
  if (!list) return list.error();
  if (list.value().empty())
    return Invalid("'params.applications' must name at least one application id (text is 'chat')");
  for (const auto& app : list.value()) {
    if (app.size() > kMaxApplicationBytes)
      return Invalid("application id '" + app + "' is longer than 64 bytes");
  }
  return std::set<std::string>(list.value().begin(), list.value().end());
}

// The parameters that only some kinds take.
Status ReadKindParams(Policy& policy, const json::object& params, const Topology* topology) {
  if (policy.kind == PolicyKind::kExposure) return Ok{};
  auto areas = ReadAreas(params, topology);
  if (!areas) return areas.error();
  policy.areas = std::move(areas).value();
  if (policy.kind == PolicyKind::kLocationSubscription) {
    auto accounts = ReadAccounts(params, true);
    if (!accounts) return accounts.error();
    policy.accounts = std::move(accounts).value();
  }
  if (policy.kind == PolicyKind::kLocationApplication) {
    auto applications = ReadApplications(params);
    if (!applications) return applications.error();
    policy.applications = std::move(applications).value();
  }
  return Ok{};
}

json::array ToArray(const auto& strings) {
  json::array out;
  for (const auto& s : strings)
    out.emplace_back(s);
  return out;
}

json::value ValidityJson(const TemporalValidity& validity) {
  if (!validity.Bounded()) return nullptr;
  json::object out;
  out["start"] = validity.start_ms == 0 ? json::value(nullptr) : json::value(validity.start_ms);
  out["end"] = validity.end_ms == 0 ? json::value(nullptr) : json::value(validity.end_ms);
  return out;
}

void PutNotification(json::object& out, const NotificationTarget& target) {
  out["notification_url"] = target.url.empty() ? json::value(nullptr) : json::value(target.url);
  out["early_notification"] = target.early;
  out["late_notification"] = target.late;
}

}  // namespace

std::string_view PolicyKindName(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kLocation:
      return "location";
    case PolicyKind::kLocationSubscription:
      return "location_subscription";
    case PolicyKind::kLocationApplication:
      return "location_application";
    case PolicyKind::kExposure:
      return "exposure";
  }
  return "location";
}

std::optional<PolicyKind> ParsePolicyKind(std::string_view name) {
  for (PolicyKind kind : kAllPolicyKinds) {
    if (PolicyKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

bool Area::Contains(const EdgeSite& site_of_dnai, const Location& location) const {
  if (tais.empty() && cells.empty()) return site_of_dnai.ServesTai(location.tai);
  if (!location.cell.empty() && std::find(cells.begin(), cells.end(), location.cell) != cells.end())
    return true;
  return std::find(tais.begin(), tais.end(), location.tai) != tais.end();
}

const TrafficInfluence* Policy::FindRequest(std::string_view id) const {
  for (const auto& request : requests) {
    if (request.id == id) return &request;
  }
  return nullptr;
}

Result<Policy> ParsePolicyRequest(const json::object& body, const Topology* topology) {
  const json::value* kind = body.if_contains("kind");
  if (kind == nullptr || !kind->is_string())
    return Invalid(
        "'kind' must be one of location, location_subscription, "
        "location_application, exposure");
  auto parsed_kind = ParsePolicyKind(kind->get_string());
  if (!parsed_kind)
    return Invalid("unknown policy kind '" + std::string(kind->get_string()) +
                   "'; GET /v1/offload-policies lists the kinds");
  const json::value* params_value = body.if_contains("params");
  static const json::object kNoParams;
  if (params_value != nullptr && !params_value->is_object() && !params_value->is_null())
    return Invalid("'params' must be an object");
  const json::object& params =
      params_value != nullptr && params_value->is_object() ? params_value->get_object() : kNoParams;

  Policy policy;
  policy.kind = *parsed_kind;
  if (auto kind_params = ReadKindParams(policy, params, topology); !kind_params)
    return kind_params.error();
  auto validity = ReadValidity(params);
  if (!validity) return validity.error();
  policy.validity = validity.value();
  auto notification = ReadNotification(params);
  if (!notification) return notification.error();
  policy.notification = std::move(notification).value();
  return policy;
}

Result<TrafficInfluence> ParseTrafficInfluence(const json::object& body, const Topology* topology) {
  TrafficInfluence request;
  auto any = Bool(body, "any_account", false);
  auto accounts = ReadAccounts(body, false);
  if (!any) return any.error();
  if (!accounts) return accounts.error();
  request.any_account = any.value();
  request.accounts = std::move(accounts).value();
  if (request.any_account == !request.accounts.empty())
    return Invalid("give either 'accounts' (a non-empty list) or 'any_account': true");

  auto dnais = Strings(body, "dnais", "");
  if (!dnais) return dnais.error();
  if (dnais.value().empty()) return Invalid("'dnais' must name at least one DNAI");
  request.dnais = std::move(dnais).value();
  std::vector<const EdgeSite*> sites;
  for (const auto& dnai : request.dnais) {
    std::optional<Error> error;
    sites.push_back(CheckDnai(topology, dnai, "dnais", error));
    if (error) return *error;
  }

  if (const json::value* spatial = body.if_contains("spatial_validity");
      spatial != nullptr && !spatial->is_null()) {
    if (!spatial->is_object()) return Invalid("'spatial_validity' must be an object {tais, cells}");
    auto tais = Strings(spatial->get_object(), "tais", "spatial_validity.");
    auto cells = Strings(spatial->get_object(), "cells", "spatial_validity.");
    if (!tais) return tais.error();
    if (!cells) return cells.error();
    request.tais = std::move(tais).value();
    request.cells = std::move(cells).value();
    if (auto places = CheckPlaces(topology, sites, request.tais, request.cells, "spatial_validity");
        !places)
      return places.error();
  }

  auto validity = ReadValidity(body);
  if (!validity) return validity.error();
  request.validity = validity.value();
  auto notification = ReadNotification(body);
  if (!notification) return notification.error();
  request.notification = std::move(notification).value();
  return request;
}

json::object TrafficInfluenceJson(const TrafficInfluence& request) {
  json::object out;
  out["id"] = request.id;
  out["accounts"] = ToArray(request.accounts);
  out["any_account"] = request.any_account;
  out["dnais"] = ToArray(request.dnais);
  out["spatial_validity"] =
      json::object{{"tais", ToArray(request.tais)}, {"cells", ToArray(request.cells)}};
  out["temporal_validity"] = ValidityJson(request.validity);
  PutNotification(out, request.notification);
  out["created_at"] = request.created_ms;
  return out;
}

json::object PolicyJson(const Policy& policy) {
  json::object params;
  if (policy.kind != PolicyKind::kExposure) {
    json::array areas;
    for (const Area& area : policy.areas) {
      areas.push_back(json::object{
          {"dnai", area.dnai}, {"tais", ToArray(area.tais)}, {"cells", ToArray(area.cells)}});
    }
    params["areas"] = std::move(areas);
  }
  if (policy.kind == PolicyKind::kLocationSubscription)
    params["accounts"] = ToArray(policy.accounts);
  if (policy.kind == PolicyKind::kLocationApplication)
    params["applications"] = ToArray(policy.applications);
  params["temporal_validity"] = ValidityJson(policy.validity);
  PutNotification(params, policy.notification);

  json::object out{{"kind", PolicyKindName(policy.kind)},
                   {"params", std::move(params)},
                   {"updated_at", policy.updated_ms}};
  if (policy.kind == PolicyKind::kExposure) {
    json::array requests;
    for (const auto& request : policy.requests)
      requests.push_back(TrafficInfluenceJson(request));
    out["traffic_influence"] = std::move(requests);
  }
  return out;
}

std::string StoredPolicyJson(const Policy& policy) {
  json::object out = PolicyJson(policy);
  out["next_request"] = policy.next_request;
  return json::serialize(out);
}

Result<Policy> ParseStoredPolicy(std::string_view text) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec || !root.is_object()) return Invalid("the stored policy is not a JSON object");
  const json::object& object = root.get_object();
  auto policy = ParsePolicyRequest(object, nullptr);
  if (!policy) return policy.error();
  Policy& out = policy.value();
  if (const json::value* updated = object.if_contains("updated_at"); updated && updated->is_int64())
    out.updated_ms = updated->get_int64();
  if (const json::value* next = object.if_contains("next_request"); next && next->is_number())
    out.next_request = next->to_number<std::uint64_t>();
  const json::value* requests = object.if_contains("traffic_influence");
  if (requests == nullptr || !requests->is_array()) return policy;
  for (const json::value& item : requests->get_array()) {
    if (!item.is_object()) continue;
    auto request = ParseTrafficInfluence(item.get_object(), nullptr);
    if (!request) return request.error();
    if (const json::value* id = item.get_object().if_contains("id"); id && id->is_string())
      request.value().id = std::string(id->get_string());
    if (const json::value* at = item.get_object().if_contains("created_at"); at && at->is_int64())
      request.value().created_ms = at->get_int64();
    out.requests.push_back(std::move(request).value());
  }
  return policy;
}

json::array PolicyCatalogJson() {
  const json::object area{{"name", "areas"},
                          {"type", "array of {dnai, tais?, cells?}"},
                          {"required", true},
                          {"description",
                           "where offload applies and the DNAI that serves it; without tais and "
                           "cells, the whole service area of the DNAI's edge site"}};
  const json::array common{
      json::object{{"name", "temporal_validity"},
                   {"type", "{start?, end?} ms since the epoch"},
                   {"required", false},
                   {"description", "outside this window the terminal stays on the main anchor"}},
      json::object{{"name", "notification_url"},
                   {"type", "http URL"},
                   {"required", false},
                   {"description", "told by POST when a terminal's path changes"}},
      json::object{{"name", "early_notification"}, {"type", "bool"}, {"required", false}},
      json::object{
          {"name", "late_notification"}, {"type", "bool (default true)"}, {"required", false}}};
  auto with = [&](std::initializer_list<json::value> own) {
    json::array params;
    for (const auto& p : own)
      params.push_back(p);
    for (const auto& p : common)
      params.push_back(p);
    return params;
  };
  return json::array{
      json::object{{"kind", "location"},
                   {"description", "offload at the edge site serving the terminal's location"},
                   {"params", with({area})}},
      json::object{{"kind", "location_subscription"},
                   {"description", "as location, for subscribed accounts only"},
                   {"params", with({area, json::object{{"name", "accounts"},
                                                       {"type", "array of account"},
                                                       {"required", true}}})}},
      json::object{{"kind", "location_application"},
                   {"description", "as location, for the listed applications only (text: chat)"},
                   {"params", with({area, json::object{{"name", "applications"},
                                                       {"type", "array of application id"},
                                                       {"required", true}}})}},
      json::object{
          {"kind", "exposure"},
          {"description",
           "the platform steers its own traffic with traffic-influence requests: POST "
           "/v1/platforms/{pid}/traffic-influence {accounts | any_account, dnais, "
           "spatial_validity?, temporal_validity?, notification_url?, early_notification?, "
           "late_notification?}"},
          {"params", with({})}}};
}

}  // namespace sb::offload
