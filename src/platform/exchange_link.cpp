#include "platform/exchange_link.h"

#include <boost/json.hpp>
#include <thread>

namespace sb::platform {
namespace json = boost::json;
namespace {

constexpr std::size_t kAccountPageSize = 1000;
constexpr auto kHealthPoll = std::chrono::milliseconds(200);

// Throws ExchangeError unless `reply` has one of the expected statuses.
void Expect(const net::HttpReply& reply, std::initializer_list<int> statuses, const char* what) {
  for (int status : statuses) {
    if (reply.status == status) return;
  }
  std::string code = "unknown";
  std::string message = reply.body;
  json::error_code ec;
  json::value body = json::parse(reply.body, ec);
  if (!ec && body.is_object()) {
    const json::value* error = body.get_object().if_contains("error");
    if (error != nullptr && error->is_object()) {
      if (auto* c = error->get_object().if_contains("code"); c && c->is_string())
        code = std::string(c->get_string());
      if (auto* m = error->get_object().if_contains("message"); m && m->is_string())
        message = std::string(m->get_string());
    }
  }
  throw ExchangeError(
      reply.status, code,
      std::string(what) + ": HTTP " + std::to_string(reply.status) + " " + code + ": " + message);
}

json::object ParseObject(const net::HttpReply& reply, const char* what) {
  json::error_code ec;
  json::value body = json::parse(reply.body, ec);
  if (ec || !body.is_object()) {
    throw ExchangeError(reply.status, "bad_answer", std::string(what) + ": answer is not JSON");
  }
  return std::move(body.get_object());
}

std::string StringOf(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

json::array AccountItems(const std::vector<AccountEntry>& accounts) {
  json::array items;
  items.reserve(accounts.size());
  for (const AccountEntry& entry : accounts) {
    items.push_back(json::object{{"account", entry.account}, {"discoverable", entry.discoverable}});
  }
  return items;
}

// `text` percent-encoded for a query value.
std::string QueryEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

ExchangeLink::ExchangeLink(const ExchangeEndpoint& exchange, std::chrono::milliseconds timeout,
                           const std::string& ca_file)
    : http_(exchange.address.host, exchange.address.port, timeout,
            net::ClientTls{exchange.tls, ca_file}) {}

net::HttpReply ExchangeLink::Call(const std::string& method, const std::string& target,
                                  const std::string& credential, const std::string& body) {
  std::map<std::string, std::string> headers;
  if (!credential.empty()) headers["Authorization"] = "Bearer " + credential;
  return http_.Request(method, target, body, headers);
}

std::string ExchangeLink::PlatformPath() const {
  return "/v1/platforms/" + registration_.platform_id;
}

bool ExchangeLink::WaitUntilHealthy(std::chrono::seconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    try {
      if (Call("GET", "/healthz", {}).status == 200) return true;
    } catch (const std::runtime_error&) {
      // Not listening yet: try again until the deadline.
      http_.Disconnect();
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kHealthPoll);
  }
}

Registration ExchangeLink::Register(const std::string& enrollment_token, const std::string& name,
                                    const std::vector<AccountEntry>& accounts,
                                    const std::string& jwks_json) {
  const json::object body{
      {"name", name}, {"accounts", AccountItems(accounts)}, {"jwks", json::parse(jwks_json)}};
  const net::HttpReply reply =
      Call("POST", "/v1/platforms", enrollment_token, json::serialize(body));
  Expect(reply, {201}, "registration");

  const json::object answer = ParseObject(reply, "registration");
  Registration registration{StringOf(answer, "platform_id"), StringOf(answer, "api_key"), name};
  if (registration.platform_id.empty() || registration.api_key.empty()) {
    throw ExchangeError(reply.status, "bad_answer", "registration: no platform_id or api_key");
  }
  registration_ = registration;
  return registration;
}

void ExchangeLink::UseRegistration(const Registration& registration) {
  registration_ = registration;
}

std::string ExchangeLink::PlatformName() {
  const net::HttpReply reply = Call("GET", PlatformPath(), registration_.api_key);
  Expect(reply, {200}, "platform lookup");
  return StringOf(ParseObject(reply, "platform lookup"), "name");
}

void ExchangeLink::PublishKeys(const std::string& jwks_json) {
  const net::HttpReply reply =
      Call("PUT", PlatformPath() + "/jwks", registration_.api_key, jwks_json);
  Expect(reply, {200}, "key publication");
}

std::size_t ExchangeLink::ChangeAccounts(const std::vector<AccountEntry>& add,
                                         const std::vector<std::string>& remove) {
  json::array remove_items;
  for (const std::string& account : remove)
    remove_items.push_back(json::string(account));
  const json::object body{{"add", AccountItems(add)}, {"remove", std::move(remove_items)}};

  const net::HttpReply reply =
      Call("POST", PlatformPath() + "/accounts", registration_.api_key, json::serialize(body));
  Expect(reply, {200}, "account change");
  const json::object answer = ParseObject(reply, "account change");
  const json::value* total = answer.if_contains("total");
  return total != nullptr && total->is_int64() ? static_cast<std::size_t>(total->get_int64()) : 0;
}

std::vector<AccountEntry> ExchangeLink::ListAccounts() {
  std::vector<AccountEntry> accounts;
  std::string cursor;
  do {
    std::string target = PlatformPath() + "/accounts?limit=" + std::to_string(kAccountPageSize);
    if (!cursor.empty()) target += "&cursor=" + QueryEscape(cursor);
    const net::HttpReply reply = Call("GET", target, registration_.api_key);
    Expect(reply, {200}, "account list");

    const json::object page = ParseObject(reply, "account list");
    const json::value* items = page.if_contains("accounts");
    if (items == nullptr || !items->is_array()) {
      throw ExchangeError(reply.status, "bad_answer", "account list: no 'accounts' array");
    }
    for (const json::value& item : items->get_array()) {
      if (!item.is_object()) continue;
      const json::value* discoverable = item.get_object().if_contains("discoverable");
      accounts.push_back(AccountEntry{
          StringOf(item.get_object(), "account"),
          discoverable == nullptr || !discoverable->is_bool() || discoverable->get_bool()});
    }
    cursor = StringOf(page, "next_cursor");
  } while (!cursor.empty());
  return accounts;
}

std::vector<DirectoryEntry> ExchangeLink::Directory(std::size_t limit) {
  const net::HttpReply reply =
      Call("GET", "/v1/directory?limit=" + std::to_string(limit), registration_.api_key);
  Expect(reply, {200}, "directory");

  const json::object answer = ParseObject(reply, "directory");
  std::vector<DirectoryEntry> entries;
  const json::value* items = answer.if_contains("entries");
  if (items == nullptr || !items->is_array()) return entries;
  for (const json::value& item : items->get_array()) {
    if (!item.is_object()) continue;
    const json::object& o = item.get_object();
    entries.push_back(DirectoryEntry{StringOf(o, "platform_id"), StringOf(o, "platform_name"),
                                     StringOf(o, "account")});
  }
  return entries;
}

PolicyOutcome ExchangeLink::PutOffloadPolicy(const OffloadPolicy& policy) {
  const json::object body{{"kind", policy.kind}, {"params", json::parse(policy.params_json)}};
  const net::HttpReply reply =
      Call("PUT", PlatformPath() + "/offload-policy", registration_.api_key, json::serialize(body));
  // An exchange without the endpoint answers 404 not_found (or 405 where the path exists).
  if ((reply.status == 404 && reply.body.find("\"not_found\"") != std::string::npos) ||
      reply.status == 405) {
    return PolicyOutcome::kUnsupported;
  }
  Expect(reply, {200, 201}, "offload policy");
  return PolicyOutcome::kStored;
}

}  // namespace sb::platform
