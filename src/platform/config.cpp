#include "platform/config.h"

#include <toml++/toml.h>

#include <sstream>
#include <stdexcept>

namespace sb::platform {
namespace {

toml::table ParseToml(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("config " + path + ": " + std::string(e.description()));
  }
}

void ReadString(const toml::table& table, std::string_view key, std::string& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return;
  auto value = node->value<std::string>();
  if (!value) throw std::runtime_error("config: '" + std::string(key) + "' must be a string");
  out = *value;
}

void ReadSeconds(const toml::table& table, std::string_view key, std::int64_t& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return;
  auto value = node->value<std::int64_t>();
  if (!value || *value <= 0) {
    throw std::runtime_error("config: '" + std::string(key) + "' must be a positive integer");
  }
  out = *value;
}

SeedUser ReadUserTable(const toml::node& node) {
  const toml::table* table = node.as_table();
  if (table == nullptr) throw std::runtime_error("config: each [[user]] must be a table");
  SeedUser user;
  ReadString(*table, "account", user.account);
  ReadString(*table, "password", user.password);
  if (const toml::node* d = table->get("discoverable")) {
    auto value = d->value<bool>();
    if (!value) throw std::runtime_error("config: 'user.discoverable' must be true or false");
    user.discoverable = *value;
  }
  if (user.account.empty() || user.password.empty()) {
    throw std::runtime_error("config: each [[user]] needs 'account' and 'password'");
  }
  return user;
}

void ReadUsers(const toml::table& table, std::vector<SeedUser>& out) {
  const toml::node* node = table.get("user");
  if (node == nullptr) return;
  const toml::array* users = node->as_array();
  if (users == nullptr) throw std::runtime_error("config: 'user' must be an array of tables");
  for (const toml::node& user : *users)
    out.push_back(ReadUserTable(user));
}

std::optional<OffloadPolicy> ReadOffloadPolicy(const toml::table& table) {
  const toml::node* node = table.get("offload_policy");
  if (node == nullptr) return std::nullopt;
  const toml::table* policy_table = node->as_table();
  if (policy_table == nullptr) throw std::runtime_error("config: 'offload_policy' must be a table");

  OffloadPolicy policy;
  ReadString(*policy_table, "kind", policy.kind);
  if (policy.kind.empty()) throw std::runtime_error("config: 'offload_policy.kind' is required");
  if (const toml::node* params = policy_table->get("params")) {
    const toml::table* params_table = params->as_table();
    if (params_table == nullptr) {
      throw std::runtime_error("config: 'offload_policy.params' must be a table");
    }
    std::ostringstream json;
    json << toml::json_formatter{*params_table};
    policy.params_json = json.str();
  }
  return policy;
}

}  // namespace

PlatformConfig LoadPlatformConfigFile(const std::string& path) {
  const toml::table table = ParseToml(path);
  PlatformConfig config;

  std::string listen;
  ReadString(table, "listen", listen);
  if (!listen.empty()) config.listen = ParseHostPort(listen);
  ReadString(table, "exchange", config.exchange_url);
  ParseExchangeUrl(config.exchange_url);
  ReadString(table, "exchange_ca_file", config.exchange_ca_file);
  ReadString(table, "exchange_ws", config.exchange_ws);
  ReadString(table, "data", config.data_dir);
  ReadString(table, "name", config.name);
  ReadString(table, "enrollment_token", config.enrollment_token);
  ReadString(table, "web", config.web_dir);
  ReadString(table, "log_level", config.log_level);
  ReadSeconds(table, "token_ttl_s", config.token_ttl_s);
  ReadSeconds(table, "sync_interval_s", config.sync_interval_s);
  ReadSeconds(table, "exchange_wait_s", config.exchange_wait_s);

  std::string users_file;
  ReadString(table, "users", users_file);
  if (!users_file.empty()) LoadUsersFile(config, users_file);
  ReadUsers(table, config.seed_users);
  config.offload_policy = ReadOffloadPolicy(table);
  return config;
}

void LoadUsersFile(PlatformConfig& config, const std::string& path) {
  ReadUsers(ParseToml(path), config.seed_users);
}

HostPort ParseHostPort(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw std::runtime_error("address '" + text + "' must be HOST:PORT");
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }

  const std::string port = text.substr(colon + 1);
  unsigned long value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || value > 65535) {
      throw std::runtime_error("address '" + text + "' has a bad port");
    }
    value = value * 10 + static_cast<unsigned long>(c - '0');
  }
  if (value > 65535) throw std::runtime_error("address '" + text + "' has a bad port");
  return HostPort{host, static_cast<std::uint16_t>(value)};
}

ExchangeEndpoint ParseExchangeUrl(const std::string& url) {
  const bool tls = url.rfind("https://", 0) == 0;
  if (!tls && url.rfind("http://", 0) != 0) {
    throw std::runtime_error("exchange URL '" + url + "' must start with http:// or https://");
  }
  std::string rest = url.substr(url.find("://") + 3);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) {
    throw std::runtime_error("exchange URL '" + url + "' must be http(s)://HOST:PORT");
  }
  const bool has_port = rest.back() != ']' && rest.rfind(':') != std::string::npos;
  const std::string default_port = tls ? ":443" : ":80";
  return ExchangeEndpoint{ParseHostPort(has_port ? rest : rest + default_port), tls};
}

SeedUser ParseSeedUser(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw std::runtime_error("a seed user is ACCOUNT:PASSWORD");
  }
  return SeedUser{text.substr(0, colon), text.substr(colon + 1), true};
}

std::string TerminalUrl(const PlatformConfig& config) {
  if (!config.exchange_ws.empty()) return config.exchange_ws;
  const ExchangeEndpoint exchange = ParseExchangeUrl(config.exchange_url);
  const bool v6 = exchange.address.host.find(':') != std::string::npos;
  const std::string host = v6 ? "[" + exchange.address.host + "]" : exchange.address.host;
  return std::string(exchange.tls ? "wss://" : "ws://") + host + ":" +
         std::to_string(exchange.address.port) + "/v1/terminal";
}

}  // namespace sb::platform
