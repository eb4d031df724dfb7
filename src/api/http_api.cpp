#include "api/http_api.h"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_path.hpp>
#include <boost/url/parse_query.hpp>

#include "api/offload_api.h"
#include "api/topology_view.h"
#include "auth/secret.h"
#include "core/clock.h"

namespace sb::api {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxNameBytes = 128;
constexpr std::size_t kDefaultPageSize = 1000;
constexpr std::size_t kMaxPageSize = 10000;
constexpr std::size_t kDefaultDirectoryLimit = 100;
constexpr std::size_t kMaxDirectoryLimit = 1000;

net::HttpResponse JsonResponse(int status, const json::value& body) {
  net::HttpResponse response;
  response.status = status;
  response.body = json::serialize(body);
  return response;
}

net::HttpResponse ErrorResponse(const Error& error) {
  net::HttpResponse response =
      JsonResponse(HttpStatusFor(error.code),
                   json::object{{"error", json::object{{"code", ErrorCodeName(error.code)},
                                                       {"message", error.message}}}});
  if (response.status == 401) response.headers["WWW-Authenticate"] = "Bearer";
  return response;
}

Error InvalidParams(std::string message) {
  return MakeError(ErrorCode::kInvalidParams, std::move(message));
}

// Reads an account item: a plain string (discoverable) or {"account":..,"discoverable":bool}.
Result<store::AccountRecord> ReadAccountItem(const json::value& item) {
  store::AccountRecord record;
  if (const json::string* s = item.if_string()) {
    record.account = std::string(*s);
  } else if (const json::object* o = item.if_object()) {
    const json::value* account = o->if_contains("account");
    const json::value* discoverable = o->if_contains("discoverable");
    if (account == nullptr || !account->is_string()) {
      return InvalidParams("an account item needs a string 'account'");
    }
    if (discoverable != nullptr && !discoverable->is_bool()) {
      return InvalidParams("'discoverable' must be true or false");
    }
    record.account = std::string(account->get_string());
    record.discoverable = discoverable == nullptr || discoverable->get_bool();
  } else {
    return InvalidParams("an account item is a string or an object");
  }
  if (!IsValidAccount(record.account)) {
    return InvalidParams("invalid account '" + record.account +
                         "': 1 to 128 bytes of UTF-8 without whitespace or control characters");
  }
  return record;
}

Result<std::vector<store::AccountRecord>> ReadAccountList(const json::object& body,
                                                          std::string_view key) {
  std::vector<store::AccountRecord> records;
  const json::value* list = body.if_contains(key);
  if (list == nullptr) return records;
  if (!list->is_array()) return InvalidParams("'" + std::string(key) + "' must be an array");
  records.reserve(list->get_array().size());
  for (const json::value& item : list->get_array()) {
    auto record = ReadAccountItem(item);
    if (!record) return record.error();
    records.push_back(std::move(record).value());
  }
  return records;
}

std::optional<std::size_t> ParseCount(std::string_view text) {
  std::size_t value = 0;
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  return value;
}

// The IP of a peer written "ip:port" or "[v6]:port".
std::string SourceIp(std::string_view remote) {
  const auto colon = remote.rfind(':');
  std::string_view ip = colon == std::string_view::npos ? remote : remote.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  return std::string(ip);
}

net::HttpResponse RateLimitedResponse(std::string message, std::int64_t wait_ms) {
  net::HttpResponse response =
      ErrorResponse(MakeError(ErrorCode::kRateLimited, std::move(message)));
  response.headers["Retry-After"] = std::to_string((wait_ms + 999) / 1000);
  return response;
}

json::value RouteJson(const Route& route) {
  return json::object{
      {"site", route.site}, {"dnai", route.dnai}, {"ulcl", route.ulcl}, {"psa", route.psa}};
}

}  // namespace

// Who is calling, from the Authorization header.
struct HttpApi::Caller {
  enum class Kind { kNone, kInvalid, kOperator, kPlatform, kEnrollment };
  Kind kind = Kind::kNone;
  const registry::Platform* platform = nullptr;
  std::string enrollment_token;
};

// One request in progress: what was asked, by whom, and how to answer.
struct HttpApi::Call {
  net::HttpRequest request;
  net::Respond respond;
  Caller caller;
  std::vector<std::string> segments;  // decoded path segments
  std::map<std::string, std::string> query;
  json::object body;
  bool answered = false;

  void Reply(int status, const json::value& value) {
    answered = true;
    respond(JsonResponse(status, value));
  }
  void Fail(const Error& error) {
    answered = true;
    respond(ErrorResponse(error));
  }
  std::string Query(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  }
};

HttpApi::HttpApi(registry::Registry& registry, delivery::Exchange& exchange,
                 MetricsRegistry& metrics, HttpApiOptions options)
    : registry_(registry),
      exchange_(exchange),
      metrics_(metrics),
      options_(std::move(options)),
      call_limiter_(options_.platform_call_rate),
      auth_failure_limiter_(options_.auth_failure_rate) {}

HttpApi::~HttpApi() = default;

HttpApi::Caller HttpApi::Identify(const net::HttpRequest& request) const {
  Caller caller;
  std::string_view header = request.Header("authorization");
  if (header.empty()) return caller;
  constexpr std::string_view kBearer = "Bearer ";
  // The scheme name is case-insensitive (RFC 7235); the credential is not.
  if (header.size() <= kBearer.size() ||
      !boost::algorithm::iequals(header.substr(0, kBearer.size()), kBearer)) {
    caller.kind = Caller::Kind::kInvalid;
    return caller;
  }
  std::string_view credential = header.substr(kBearer.size());

  if (!options_.operator_token.empty() &&
      auth::ConstantTimeEquals(credential, options_.operator_token)) {
    caller.kind = Caller::Kind::kOperator;
  } else if (const registry::Platform* platform = registry_.FindByKey(credential)) {
    caller.kind = Caller::Kind::kPlatform;
    caller.platform = platform;
  } else if (registry_.IsEnrollmentUsable(credential, NowMillis())) {
    caller.kind = Caller::Kind::kEnrollment;
    caller.enrollment_token = std::string(credential);
  } else {
    caller.kind = Caller::Kind::kInvalid;
  }
  return caller;
}

void HttpApi::Handle(net::HttpRequest request, net::Respond respond) {
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  // Count every answer by status, whichever path gives it.
  call->respond = [this, respond = std::move(respond)](net::HttpResponse response) {
    metrics_
        .GetCounter("switchboard_http_requests_total", "HTTP requests answered, by status",
                    {{"status", std::to_string(response.status)}})
        .Inc();
    respond(std::move(response));
  };

  auto path = boost::urls::parse_path(call->request.path);
  if (!path) {
    call->Fail(MakeError(ErrorCode::kBadRequest, "the path is not a valid URL path"));
    return;
  }
  for (auto segment : *path)
    call->segments.push_back(segment.decode());
  auto query = boost::urls::parse_query(call->request.query);
  if (!query) {
    call->Fail(MakeError(ErrorCode::kBadRequest, "the query string is malformed"));
    return;
  }
  for (auto param : *query)
    call->query[param.key.decode()] = param.value.decode();
  call->caller = Identify(call->request);
  // Asynchronous handlers keep what they need through their own captures of `respond`.
  Dispatch(*call);
}

// One token of the calling platform's bucket; answers 429 with Retry-After when there is none.
bool HttpApi::AdmitPlatformCall(Call& call) {
  if (call.caller.kind != Caller::Kind::kPlatform) return true;
  const std::int64_t now = options_.monotonic_ms();
  // Prune now and then, so that buckets of platforms that went quiet do not pile up.
  if (call_limiter_.Size() > 1024) call_limiter_.Prune(now);
  const std::int64_t wait = call_limiter_.Take(call.caller.platform->id, now);
  if (wait == 0) return true;

  metrics_
      .GetCounter("switchboard_http_rate_limited_total", "API calls refused by the platform limit")
      .Inc();
  call.answered = true;
  call.respond(RateLimitedResponse("too many calls with this platform key; retry later", wait));
  return false;
}

// Whether the caller's IP may still try a credential; answers 429 with Retry-After when its
// bucket of failed authentications is empty.
bool HttpApi::AdmitFromAddress(Call& call) {
  const std::int64_t now = options_.monotonic_ms();
  // Prune now and then, so that addresses that stopped failing do not pile up.
  if (auth_failure_limiter_.Size() > 1024) auth_failure_limiter_.Prune(now);
  const std::int64_t wait = auth_failure_limiter_.WaitMs(SourceIp(call.request.remote), now);
  if (wait == 0) return true;

  metrics_
      .GetCounter("switchboard_http_auth_rate_limited_total",
                  "API calls refused because their address failed to authenticate too often")
      .Inc();
  call.answered = true;
  call.respond(
      RateLimitedResponse("too many failed authentications from this address; retry later", wait));
  return false;
}

// Answers a missing or invalid credential (401), counting it against the caller's IP.
void HttpApi::RefuseCredential(Call& call, const Error& error) {
  const std::int64_t now = options_.monotonic_ms();
  auth_failure_limiter_.Take(SourceIp(call.request.remote), now);
  metrics_
      .GetCounter("switchboard_http_auth_failures_total",
                  "API calls with a missing or invalid credential")
      .Inc();
  call.Fail(error);
}

void HttpApi::Dispatch(Call& call) {
  const auto& s = call.segments;
  const std::string& method = call.request.method;

  // What anyone who reaches the listener may read.
  if (s.size() == 1 && (s[0] == "healthz" || s[0] == "metrics")) {
    if (method != "GET" && method != "HEAD") {
      call.Fail(MakeError(ErrorCode::kMethodNotAllowed, "only GET is allowed here"));
    } else if (s[0] == "metrics") {
      Metrics(call);
    } else {
      call.Reply(ready_ ? 200 : 503, json::object{{"status", ready_ ? "ok" : "unavailable"}});
    }
    return;
  }
  // The topology page holds no data: it asks for the operator token itself.
  if (topology_view_ != nullptr && s.size() == 2 && s[0] == "admin" && s[1] == "topology") {
    if (method != "GET" && method != "HEAD") {
      call.Fail(MakeError(ErrorCode::kMethodNotAllowed, "only GET is allowed here"));
    } else {
      call.answered = true;
      call.respond(TopologyView::Page());
    }
    return;
  }
  if (s.empty() || s[0] != "v1") {
    call.Fail(MakeError(ErrorCode::kNotFound, "no such endpoint"));
    return;
  }
  if (!ready_) {
    call.Fail(MakeError(ErrorCode::kUnavailable, "the exchange is starting or stopping"));
    return;
  }

  // Then the credential: a wrong one is refused before the route is looked at.
  if (!AdmitFromAddress(call)) return;
  if (call.caller.kind == Caller::Kind::kNone) {
    return RefuseCredential(
        call, MakeError(ErrorCode::kUnauthenticated, "an Authorization: Bearer header is needed"));
  }
  if (call.caller.kind == Caller::Kind::kInvalid) {
    return RefuseCredential(call,
                            MakeError(ErrorCode::kUnauthenticated, "the credential is not valid"));
  }
  if (!AdmitPlatformCall(call)) return;

  // Bodies of writes must be JSON objects (an empty body counts as an empty object).
  if ((method == "POST" || method == "PUT") && !call.request.body.empty()) {
    json::error_code ec;
    json::value body = json::parse(call.request.body, ec);
    if (ec) {
      call.Fail(MakeError(ErrorCode::kBadRequest, "the body is not valid JSON: " + ec.message()));
      return;
    }
    if (!body.is_object()) {
      call.Fail(MakeError(ErrorCode::kBadRequest, "the body must be a JSON object"));
      return;
    }
    call.body = std::move(body.get_object());
  }

  const bool is_operator = call.caller.kind == Caller::Kind::kOperator;
  const bool is_platform = call.caller.kind == Caller::Kind::kPlatform;
  auto forbidden = [&] {
    call.Fail(MakeError(ErrorCode::kForbidden, "this credential does not open this resource"));
  };
  auto not_allowed = [&] {
    call.Fail(MakeError(ErrorCode::kMethodNotAllowed, "method not allowed on this resource"));
  };

  // Offload's endpoints (api/offload_api.h) check their own callers.
  if (offload_api_ != nullptr &&
      offload_api_->Dispatch(OffloadCall{method, s, is_operator,
                                         is_platform ? call.caller.platform : nullptr, call.body,
                                         call.respond})) {
    call.answered = true;
    return;
  }

  if (topology_view_ != nullptr && s.size() == 3 && s[1] == "network" && s[2] == "topology-state") {
    if (method != "GET") return not_allowed();
    if (!is_operator) return forbidden();
    return call.Reply(200, topology_view_->State());
  }

  if (s.size() == 2 && s[1] == "enrollments") {
    if (method != "POST") return not_allowed();
    if (!is_operator) return forbidden();
    return CreateEnrollment(call);
  }
  if (s.size() == 2 && s[1] == "platforms") {
    if (method != "POST") return not_allowed();
    if (!is_operator && call.caller.kind != Caller::Kind::kEnrollment) return forbidden();
    return RegisterPlatform(call);
  }
  if (s.size() == 2 && s[1] == "directory") {
    if (method != "GET") return not_allowed();
    if (!is_operator && !is_platform) return forbidden();
    return Directory(call);
  }

  // Everything below names one platform: only that platform and the operator may touch it.
  const bool platform_route = s.size() >= 3 && (s[1] == "platforms" || s[1] == "terminals");
  if (!platform_route) {
    call.Fail(MakeError(ErrorCode::kNotFound, "no such endpoint"));
    return;
  }
  const std::string& platform_id = s[2];
  const bool own = is_platform && call.caller.platform->id == platform_id;
  if (!is_operator && !own) return forbidden();
  const registry::Platform* platform = registry_.Find(platform_id);
  if (platform == nullptr) {
    call.Fail(MakeError(ErrorCode::kPlatformNotRegistered,
                        "platform '" + platform_id + "' is not registered"));
    return;
  }

  if (s[1] == "terminals") {
    if (s.size() != 4) return call.Fail(MakeError(ErrorCode::kNotFound, "no such endpoint"));
    if (method != "GET") return not_allowed();
    return Terminals(call, platform_id, s[3]);
  }
  if (s.size() == 3) {
    if (method == "GET") return GetPlatform(call, *platform);
    if (method != "DELETE") return not_allowed();
    if (!is_operator) return forbidden();
    return DeletePlatform(call, platform_id);
  }
  if (s.size() == 4 && s[3] == "jwks") {
    if (method != "PUT") return not_allowed();
    if (!own) return forbidden();
    return PutJwks(call, platform_id);
  }
  if (s.size() == 4 && s[3] == "accounts") {
    if (method == "GET") return ListAccounts(call, *platform);
    if (method != "POST") return not_allowed();
    if (!own) return forbidden();
    return ChangeAccounts(call, platform_id);
  }
  call.Fail(MakeError(ErrorCode::kNotFound, "no such endpoint"));
}

// --- Handlers ------------------------------------------------------------------------------------

void HttpApi::CreateEnrollment(Call& call) {
  std::string name;
  std::int64_t ttl = options_.default_enrollment_ttl_s;
  if (const json::value* v = call.body.if_contains("name")) {
    if (!v->is_string() || v->get_string().size() > kMaxNameBytes) {
      return call.Fail(InvalidParams("'name' must be a string of at most 128 bytes"));
    }
    name = std::string(v->get_string());
  }
  if (const json::value* v = call.body.if_contains("expires_in")) {
    if (!v->is_int64() || v->get_int64() <= 0 || v->get_int64() > options_.max_enrollment_ttl_s) {
      return call.Fail(InvalidParams("'expires_in' must be a positive number of seconds, at most " +
                                     std::to_string(options_.max_enrollment_ttl_s)));
    }
    ttl = v->get_int64();
  }
  registry_.CreateEnrollment(std::move(name), ttl, [respond = call.respond](auto result) {
    if (!result) return respond(ErrorResponse(result.error()));
    respond(JsonResponse(201, json::object{{"enrollment_token", result.value().token},
                                           {"expires_at", result.value().expires_ms}}));
  });
}

void HttpApi::RegisterPlatform(Call& call) {
  const json::value* name = call.body.if_contains("name");
  if (name == nullptr || !name->is_string() || name->get_string().empty() ||
      name->get_string().size() > kMaxNameBytes) {
    return call.Fail(InvalidParams("'name' must be a string of 1 to 128 bytes"));
  }
  auto accounts = ReadAccountList(call.body, "accounts");
  if (!accounts) return call.Fail(accounts.error());
  const json::value* jwks = call.body.if_contains("jwks");
  if (jwks == nullptr || !jwks->is_object()) {
    return call.Fail(InvalidParams("'jwks' must be a JWK set: {\"keys\": [..]}"));
  }
  auto keys = auth::JwkSet::Parse(json::serialize(*jwks));
  if (!keys) return call.Fail(keys.error());

  registry::Registration registration{std::string(name->get_string()), std::move(accounts).value(),
                                      std::move(keys).value(), call.caller.enrollment_token};
  registry_.Register(std::move(registration), [respond = call.respond](auto result) {
    if (!result) return respond(ErrorResponse(result.error()));
    const auto& r = result.value();
    respond(JsonResponse(201, json::object{{"platform_id", r.platform_id},
                                           {"name", r.name},
                                           {"api_key", r.api_key},
                                           {"accounts", r.accounts}}));
  });
}

void HttpApi::GetPlatform(Call& call, const registry::Platform& platform) {
  json::value policy = nullptr;
  if (!platform.offload_policy_json.empty()) {
    json::error_code ec;
    policy = json::parse(platform.offload_policy_json, ec);
    if (ec) policy = nullptr;
    // The id counter of traffic-influence requests is the exchange's bookkeeping, not the policy.
    if (policy.is_object()) policy.get_object().erase("next_request");
  }
  call.Reply(200, json::object{{"platform_id", platform.id},
                               {"name", platform.name},
                               {"accounts", platform.accounts.size()},
                               {"offload_policy", std::move(policy)},
                               {"created_at", platform.created_ms}});
}

void HttpApi::DeletePlatform(Call& call, const std::string& platform_id) {
  registry_.Deregister(platform_id, [respond = call.respond, platform_id](auto result) {
    if (!result) return respond(ErrorResponse(result.error()));
    respond(JsonResponse(200, json::object{{"platform_id", platform_id}, {"deregistered", true}}));
  });
}

void HttpApi::PutJwks(Call& call, const std::string& platform_id) {
  auto keys = auth::JwkSet::Parse(json::serialize(call.body));
  if (!keys) return call.Fail(keys.error());
  const std::size_t count = keys.value().keys.size();
  registry_.RotateKeys(
      platform_id, std::move(keys).value(),
      [respond = call.respond, platform_id, count](auto result) {
        if (!result) return respond(ErrorResponse(result.error()));
        respond(JsonResponse(200, json::object{{"platform_id", platform_id}, {"keys", count}}));
      });
}

void HttpApi::ChangeAccounts(Call& call, const std::string& platform_id) {
  auto add = ReadAccountList(call.body, "add");
  if (!add) return call.Fail(add.error());
  auto remove_records = ReadAccountList(call.body, "remove");
  if (!remove_records) return call.Fail(remove_records.error());
  std::vector<std::string> remove;
  remove.reserve(remove_records.value().size());
  for (auto& record : remove_records.value())
    remove.push_back(std::move(record.account));

  registry_.ChangeAccounts(
      platform_id, std::move(add).value(), std::move(remove),
      [respond = call.respond](auto result) {
        if (!result) return respond(ErrorResponse(result.error()));
        const auto& c = result.value();
        respond(JsonResponse(
            200, json::object{{"added", c.added}, {"removed", c.removed}, {"total", c.total}}));
      });
}

void HttpApi::ListAccounts(Call& call, const registry::Platform& platform) {
  std::size_t limit = kDefaultPageSize;
  if (std::string text = call.Query("limit"); !text.empty()) {
    auto parsed = ParseCount(text);
    if (!parsed || *parsed == 0 || *parsed > kMaxPageSize) {
      return call.Fail(InvalidParams("'limit' must be between 1 and 10000"));
    }
    limit = *parsed;
  }
  auto page = registry_.ListAccounts(platform, call.Query("cursor"), limit);
  json::array accounts;
  accounts.reserve(page.accounts.size());
  for (const auto& record : page.accounts) {
    accounts.push_back(
        json::object{{"account", record.account}, {"discoverable", record.discoverable}});
  }
  json::value next = nullptr;
  if (page.next_cursor) next = json::string(*page.next_cursor);
  call.Reply(200, json::object{{"accounts", std::move(accounts)},
                               {"next_cursor", std::move(next)},
                               {"total", platform.accounts.size()}});
}

void HttpApi::Directory(Call& call) {
  std::size_t limit = kDefaultDirectoryLimit;
  if (std::string text = call.Query("limit"); !text.empty()) {
    auto parsed = ParseCount(text);
    if (!parsed || *parsed == 0 || *parsed > kMaxDirectoryLimit) {
      return call.Fail(InvalidParams("'limit' must be between 1 and 1000"));
    }
    limit = *parsed;
  }
  json::array entries;
  for (auto& entry : registry_.Directory(call.Query("platform"), call.Query("prefix"), limit)) {
    entries.push_back(json::object{{"platform_id", std::move(entry.platform_id)},
                                   {"platform_name", std::move(entry.platform_name)},
                                   {"account", std::move(entry.account)}});
  }
  call.Reply(200, json::object{{"entries", std::move(entries)}});
}

void HttpApi::Terminals(Call& call, const std::string& platform_id, const std::string& account) {
  Address address{platform_id, account};
  if (!registry_.HasAccount(address)) {
    return call.Fail(MakeError(ErrorCode::kNotFound, "no such account on this platform"));
  }
  json::array terminals;
  // Routes asked for a view are not egress: offload does not count them.
  std::optional<offload::OffloadService::QuietScope> quiet;
  if (offload_api_ != nullptr) quiet.emplace(offload_api_->service());
  for (const auto& info : exchange_.TerminalsOf(address)) {
    json::object entry{{"session", std::to_string(info.id)},
                       {"device", info.device},
                       {"connected_at", info.connected_ms},
                       {"route", RouteJson(info.route)}};
    if (offload_api_ != nullptr) offload_api_->AddTerminalDetails(info.id, address, entry);
    terminals.push_back(std::move(entry));
  }
  call.Reply(200, json::object{{"platform_id", platform_id},
                               {"account", account},
                               {"terminals", std::move(terminals)}});
}

void HttpApi::Metrics(Call& call) {
  net::HttpResponse response;
  response.content_type = "text/plain; version=0.0.4";
  response.body = metrics_.RenderPrometheus();
  call.answered = true;
  call.respond(std::move(response));
}

}  // namespace sb::api
