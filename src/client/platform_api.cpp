#include "client/platform_api.h"

#include <boost/json.hpp>
#include <stdexcept>

#include "api/codec.h"
#include "client/url.h"
#include "net/client.h"

namespace sb::client {
namespace json = boost::json;
namespace {

std::string StringAt(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The error an unsuccessful reply stands for.
Error ReplyError(const net::HttpReply& reply) {
  json::error_code ec;
  json::value body = json::parse(reply.body, ec);
  const json::object* object = ec ? nullptr : body.if_object();
  const json::value* error = object != nullptr ? object->if_contains("error") : nullptr;
  if (error != nullptr && error->is_object()) {
    const std::string code = StringAt(error->get_object(), "code");
    const std::string message = StringAt(error->get_object(), "message");
    if (auto known = api::ErrorCodeFromName(code)) return MakeError(*known, message);
    return MakeError(ErrorCode::kInternal, code + ": " + message);
  }
  return MakeError(ErrorCode::kInternal,
                   "the platform answered HTTP " + std::to_string(reply.status));
}

Result<json::object> ObjectBody(const net::HttpReply& reply) {
  if (reply.status < 200 || reply.status > 299) return ReplyError(reply);
  json::error_code ec;
  json::value body = json::parse(reply.body, ec);
  if (ec || !body.is_object())
    return MakeError(ErrorCode::kBadRequest, "the platform's answer is not a JSON object");
  return std::move(body.get_object());
}

}  // namespace

PlatformApi::PlatformApi(const std::string& base_url, const std::string& ca_file) {
  auto url = ParseUrl(base_url);
  if (!url || (url->scheme != "http" && url->scheme != "https"))
    throw std::invalid_argument("the platform URL must look like http://host:port or https://..");
  prefix_ = url->path;
  while (!prefix_.empty() && prefix_.back() == '/')
    prefix_.pop_back();
  http_ = std::make_unique<net::HttpClient>(url->host, url->port, net::kDefaultClientTimeout,
                                            net::ClientTls{UsesTls(*url), ca_file});
}

PlatformApi::~PlatformApi() = default;

Result<PlatformLogin> PlatformApi::LogIn(const std::string& account, const std::string& password) {
  net::HttpReply reply;
  try {
    reply =
        http_->Request("POST", prefix_ + "/api/login",
                       json::serialize(json::object{{"account", account}, {"password", password}}));
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kUnavailable, e.what());
  }
  auto body = ObjectBody(reply);
  if (!body) return body.error();

  const json::object& o = body.value();
  PlatformLogin login{StringAt(o, "token"), StringAt(o, "platform_id"),
                      StringAt(o, "platform_name"), StringAt(o, "account"),
                      StringAt(o, "exchange_ws")};
  if (login.token.empty() || login.platform_id.empty())
    return MakeError(ErrorCode::kBadRequest, "the login answer has no token or platform_id");
  return login;
}

Result<std::vector<PlatformUsers>> PlatformApi::Users(const std::string& token) {
  net::HttpReply reply;
  try {
    reply =
        http_->Request("GET", prefix_ + "/api/users", {}, {{"Authorization", "Bearer " + token}});
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kUnavailable, e.what());
  }
  auto body = ObjectBody(reply);
  if (!body) return body.error();

  const json::value* platforms = body.value().if_contains("platforms");
  if (platforms == nullptr || !platforms->is_array())
    return MakeError(ErrorCode::kBadRequest, "the users answer has no 'platforms' array");
  std::vector<PlatformUsers> out;
  for (const json::value& entry : platforms->get_array()) {
    if (!entry.is_object()) continue;
    PlatformUsers users{StringAt(entry.get_object(), "platform_id"),
                        StringAt(entry.get_object(), "platform_name"),
                        {}};
    if (const json::value* accounts = entry.get_object().if_contains("accounts");
        accounts != nullptr && accounts->is_array()) {
      for (const json::value& account : accounts->get_array()) {
        if (account.is_string()) users.accounts.emplace_back(account.get_string());
      }
    }
    out.push_back(std::move(users));
  }
  return out;
}

}  // namespace sb::client
