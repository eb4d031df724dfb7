#include "platform/platform_api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>

#include "core/identity.h"
#include "platform/credentials.h"
#include "platform/log.h"
#include "platform/password.h"

namespace sb::platform {
namespace json = boost::json;
namespace {

constexpr std::size_t kMinPasswordBytes = 8;
constexpr std::size_t kMaxPasswordBytes = 1024;
constexpr std::size_t kDirectoryLimit = 1000;

std::int64_t SteadyMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// The IP of a peer written "ip:port" or "[v6]:port".
std::string SourceIp(const std::string& remote) {
  const auto colon = remote.rfind(':');
  std::string ip = colon == std::string::npos ? remote : remote.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  return ip;
}

std::int64_t NowSeconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

net::HttpResponse Json(int status, const json::value& body) {
  net::HttpResponse response;
  response.status = status;
  response.body = json::serialize(body);
  response.headers["Cache-Control"] = "no-store";
  return response;
}

net::HttpResponse Fail(int status, std::string_view code, std::string_view message) {
  net::HttpResponse response =
      Json(status, json::object{{"error", json::object{{"code", code}, {"message", message}}}});
  if (status == 401) response.headers["WWW-Authenticate"] = "Bearer";
  return response;
}

net::HttpResponse ExchangeDown(const std::exception& e) {
  Log()->warn("exchange call failed: {}", e.what());
  if (dynamic_cast<const ExchangeError*>(&e) != nullptr) {
    return Fail(503, "unavailable", "the exchange refused the change; try again later");
  }
  return Fail(503, "unavailable", "the exchange cannot be reached; try again shortly");
}

// The body as a JSON object, or nullopt when it is not one.
std::optional<json::object> ParseBody(const std::string& body) {
  json::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.get_object());
}

std::string StringOf(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

auth::JwkSet OwnKeys(const auth::SigningKey& key, const std::string& kid) {
  auth::JwkSet set;
  set.keys.push_back(key.PublicJwk(kid));
  return set;
}

}  // namespace

PlatformApi::PlatformApi(UserStore& users, ExchangeLink& exchange, const auth::SigningKey& key,
                         PlatformIdentity identity, std::int64_t token_ttl_s, LoginLimits limits)
    : users_(users),
      exchange_(exchange),
      key_(key),
      kid_(KeyId(key)),
      keys_(OwnKeys(key, kid_)),
      identity_(std::move(identity)),
      token_ttl_s_(token_ttl_s),
      decoy_hash_(HashPassword("decoy password, matches nothing")),
      failed_by_account_(limits.per_account),
      failed_by_address_(limits.per_address) {}

bool PlatformApi::Owns(const std::string& path) {
  return path.rfind("/api/", 0) == 0;
}

net::HttpResponse PlatformApi::Handle(const net::HttpRequest& request) {
  const std::string& path = request.path;
  const std::string& method = request.method;
  auto route = [&](const char* route_path, const char* route_method) {
    return path == route_path && method == route_method;
  };

  try {
    if (route("/api/platform", "GET")) return Info();
    if (route("/api/signup", "POST")) return SignUp(request.body);
    if (route("/api/login", "POST")) return LogIn(request.body, SourceIp(request.remote));
    if (route("/api/users", "GET")) return ListUsers(request);
    if (route("/api/account", "DELETE")) return DeleteAccount(request);
  } catch (const UserStoreError& e) {
    Log()->error("users database: {}", e.what());
    return Fail(500, "internal", "the platform could not read or write its users");
  } catch (const std::runtime_error& e) {
    // The exchange could not be reached, or refused a call that is not answered where it is made.
    return ExchangeDown(e);
  }

  const bool known = path == "/api/platform" || path == "/api/signup" || path == "/api/login" ||
                     path == "/api/users" || path == "/api/account";
  if (known) return Fail(405, "method_not_allowed", "method not allowed on this resource");
  return Fail(404, "not_found", "no such endpoint");
}

net::HttpResponse PlatformApi::Info() const {
  return Json(200, json::object{{"platform_id", identity_.platform_id},
                                {"platform_name", identity_.platform_name},
                                {"exchange_ws", identity_.terminal_url}});
}

net::HttpResponse PlatformApi::SignUp(const std::string& body) {
  auto request = ParseBody(body);
  if (!request) return Fail(400, "bad_request", "the body must be a JSON object");
  const std::string account = StringOf(*request, "account");
  const std::string password = StringOf(*request, "password");
  const json::value* discoverable_value = request->if_contains("discoverable");

  if (!IsValidAccount(account)) {
    return Fail(422, "invalid_params",
                "the account must be 1 to 128 bytes of UTF-8 without spaces or control characters");
  }
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes) {
    return Fail(422, "invalid_params", "the password must be 8 to 1024 bytes long");
  }
  if (discoverable_value != nullptr && !discoverable_value->is_bool()) {
    return Fail(422, "invalid_params", "'discoverable' must be true or false");
  }
  const bool discoverable = discoverable_value == nullptr || discoverable_value->get_bool();

  // Stored here first, then mirrored to the exchange; undone when the exchange refuses.
  if (!users_.Add(account, HashPassword(password), discoverable)) {
    return Fail(409, "conflict", "this account is taken");
  }
  try {
    exchange_.ChangeAccounts({AccountEntry{account, discoverable}}, {});
  } catch (const std::runtime_error& e) {  // ExchangeError, or the exchange is unreachable
    users_.Remove(account);
    return ExchangeDown(e);
  }
  Log()->info("signed up {}@{} (discoverable: {})", account, identity_.platform_id, discoverable);
  return Json(201, json::object{{"account", account}, {"discoverable", discoverable}});
}

net::HttpResponse PlatformApi::LogIn(const std::string& body, const std::string& address) {
  auto request = ParseBody(body);
  if (!request) return Fail(400, "bad_request", "the body must be a JSON object");
  const std::string account = StringOf(*request, "account");
  const std::string password = StringOf(*request, "password");
  if (const std::int64_t wait = LoginWait(account, address); wait > 0) {
    Log()->info("log-in for account '{}' from {} refused: too many failures", account, address);
    net::HttpResponse response =
        Fail(429, "rate_limited", "too many failed log-ins; try again later");
    response.headers["Retry-After"] = std::to_string((wait + 999) / 1000);
    return response;
  }

  // An unknown account costs one hash like a known one, so timing does not tell them apart.
  const std::optional<std::string> hash = users_.PasswordHash(account);
  const bool matches = VerifyPassword(password, hash.value_or(decoy_hash_)) && hash.has_value();
  if (!matches) {
    Log()->info("failed log-in for account '{}'", account);
    CountFailedLogin(account, address);
    return Fail(401, "unauthenticated", "wrong account or password");
  }

  const std::int64_t now = NowSeconds();
  const std::string token = key_.MintToken(identity_.platform_id, account, now, token_ttl_s_, kid_);
  Log()->info("{}@{} logged in", account, identity_.platform_id);
  return Json(200, json::object{{"token", token},
                                {"platform_id", identity_.platform_id},
                                {"platform_name", identity_.platform_name},
                                {"account", account},
                                {"exchange_ws", identity_.terminal_url},
                                {"expires_at", (now + token_ttl_s_) * 1000}});
}

std::int64_t PlatformApi::LoginWait(const std::string& account, const std::string& address) {
  const std::int64_t now = SteadyMillis();
  // Prune now and then, so that accounts and addresses that stopped failing do not pile up.
  if (failed_by_account_.Size() > 4096) failed_by_account_.Prune(now);
  if (failed_by_address_.Size() > 4096) failed_by_address_.Prune(now);
  return std::max(failed_by_account_.WaitMs(account, now), failed_by_address_.WaitMs(address, now));
}

void PlatformApi::CountFailedLogin(const std::string& account, const std::string& address) {
  const std::int64_t now = SteadyMillis();
  failed_by_account_.Take(account, now);
  failed_by_address_.Take(address, now);
}

std::string PlatformApi::Authenticate(const net::HttpRequest& request) {
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view header = request.Header("authorization");
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return {};

  auto parsed = auth::ParseToken(header.substr(kBearer.size()));
  if (!parsed) return {};
  if (!auth::VerifyToken(parsed.value(), keys_, NowSeconds())) return {};
  const auth::TokenClaims& claims = parsed.value().claims;
  if (claims.iss != identity_.platform_id || !users_.Exists(claims.sub)) return {};
  return claims.sub;
}

net::HttpResponse PlatformApi::ListUsers(const net::HttpRequest& request) {
  const std::string caller = Authenticate(request);
  if (caller.empty()) return Fail(401, "unauthenticated", "log in first");

  // This platform's own accounts come from its own users: discoverable ones, and the caller.
  json::array own;
  for (const User& user : users_.List()) {
    if (user.discoverable || user.account == caller) own.push_back(json::string(user.account));
  }
  json::array platforms;
  platforms.push_back(json::object{{"platform_id", identity_.platform_id},
                                   {"platform_name", identity_.platform_name},
                                   {"accounts", std::move(own)}});

  // Then the other platforms, in the order the directory first names them.
  // TODO(platform): the directory has no cursor yet; past kDirectoryLimit entries the list is cut.
  std::map<std::string, std::size_t> index_of;
  for (DirectoryEntry& entry : exchange_.Directory(kDirectoryLimit)) {
    if (entry.platform_id == identity_.platform_id) continue;
    auto [it, added] = index_of.try_emplace(entry.platform_id, platforms.size());
    if (added) {
      platforms.push_back(json::object{{"platform_id", entry.platform_id},
                                       {"platform_name", entry.platform_name},
                                       {"accounts", json::array()}});
    }
    platforms[it->second].as_object()["accounts"].as_array().push_back(json::string(entry.account));
  }
  return Json(200, json::object{{"platforms", std::move(platforms)}});
}

net::HttpResponse PlatformApi::DeleteAccount(const net::HttpRequest& request) {
  const std::string caller = Authenticate(request);
  if (caller.empty()) return Fail(401, "unauthenticated", "log in first");

  users_.Remove(caller);
  try {
    exchange_.ChangeAccounts({}, {caller});
  } catch (const std::runtime_error& e) {
    // Removed here already; the next reconciliation removes it from the exchange too.
    Log()->warn("removal of {} not yet mirrored to the exchange: {}", caller, e.what());
  }
  Log()->info("removed {}@{}", caller, identity_.platform_id);
  return Json(200, json::object{{"account", caller}, {"removed", true}});
}

}  // namespace sb::platform
