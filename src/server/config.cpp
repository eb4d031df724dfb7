#include "server/config.h"

#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sb::server {
namespace {

template <typename T>
void Read(const toml::table& table, std::string_view section, std::string_view key, T& out) {
  const toml::node* node =
      section.empty() ? table.get(key)
                      : table.at_path(std::string(section) + "." + std::string(key)).node();
  if (node == nullptr) return;
  const std::string where =
      section.empty() ? std::string(key) : std::string(section) + "." + std::string(key);
  if constexpr (std::is_same_v<T, std::string>) {
    auto v = node->value<std::string>();
    if (!v) throw std::runtime_error("config: '" + where + "' must be a string");
    out = *v;
  } else if constexpr (std::is_same_v<T, double>) {
    auto v = node->value<double>();
    if (!v || !(*v >= 0)) throw std::runtime_error("config: '" + where + "' must be a number >= 0");
    out = *v;
  } else if constexpr (std::is_same_v<T, bool>) {
    auto v = node->value<bool>();
    if (!v) throw std::runtime_error("config: '" + where + "' must be true or false");
    out = *v;
  } else {
    auto v = node->value<std::int64_t>();
    if (!v || *v < 0)
      throw std::runtime_error("config: '" + where + "' must be a non-negative integer");
    out = static_cast<T>(*v);
  }
}

// The rate limits, queue bound and idle timeout of [limits].
void ReadLimits(const toml::table& table, Config& config) {
  Read(table, "limits", "idle_timeout_s", config.idle_timeout_s);
  Read(table, "limits", "account_rate", config.account_rate);
  Read(table, "limits", "account_burst", config.account_burst);
  Read(table, "limits", "platform_rate", config.platform_rate);
  Read(table, "limits", "platform_burst", config.platform_burst);
  Read(table, "limits", "connection_frame_rate", config.connection_frame_rate);
  Read(table, "limits", "connection_frame_burst", config.connection_frame_burst);
  Read(table, "limits", "connection_flood_close", config.connection_flood_close);
  Read(table, "limits", "api_rate", config.api_rate);
  Read(table, "limits", "api_burst", config.api_burst);
  Read(table, "limits", "auth_failure_rate", config.auth_failure_rate);
  Read(table, "limits", "auth_failure_burst", config.auth_failure_burst);
  Read(table, "limits", "max_send_queue_bytes", config.max_send_queue_bytes);
  if (config.idle_timeout_s == 0)
    throw std::runtime_error("config: limits.idle_timeout_s must be positive");
  if (config.connection_flood_close == 0)
    throw std::runtime_error("config: limits.connection_flood_close must be positive");
}

// A path from the config file, made relative to the file's folder when it is relative.
void ResolveBeside(const std::string& config_path, std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return;
  path = (std::filesystem::path(config_path).parent_path() / path).lexically_normal().string();
}

}  // namespace

Config LoadConfigFile(const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error("config " + path + ": " + std::string(e.description()));
  }

  Config config;
  std::string listen;
  Read(table, "", "listen", listen);
  if (!listen.empty()) SetListen(config, listen);
  Read(table, "", "data", config.data_dir);
  Read(table, "", "log_level", config.log_level);
  Read(table, "limits", "max_frame_bytes", config.max_frame_bytes);
  Read(table, "limits", "max_body_bytes", config.max_body_bytes);
  Read(table, "limits", "hello_timeout_ms", config.hello_timeout_ms);
  Read(table, "limits", "max_connections_per_address", config.max_connections_per_address);
  Read(table, "limits", "max_connections", config.max_connections);
  Read(table, "tls", "cert_file", config.tls_cert_file);
  Read(table, "tls", "key_file", config.tls_key_file);
  ResolveBeside(path, config.tls_cert_file);
  ResolveBeside(path, config.tls_key_file);
  ReadLimits(table, config);
  Read(table, "store", "durable", config.durable);
  Read(table, "delivery", "retention_s", config.retention_s);
  Read(table, "delivery", "account_queue_quota", config.account_queue_quota);
  Read(table, "delivery", "dedup_window_s", config.dedup_window_s);
  Read(table, "auth", "clock_skew_s", config.clock_skew_s);
  Read(table, "auth", "max_token_lifetime_s", config.max_token_lifetime_s);
  Read(table, "main", "site", config.main_route.site);
  Read(table, "main", "dnai", config.main_route.dnai);
  Read(table, "main", "psa", config.main_route.psa);
  Read(table, "", "topology", config.topology_path);
  if (!config.topology_path.empty() && std::filesystem::path(config.topology_path).is_relative())
    config.topology_path = (std::filesystem::path(path).parent_path() / config.topology_path)
                               .lexically_normal()
                               .string();
  Read(table, "offload", "tick_ms", config.offload_tick_ms);
  Read(table, "offload", "notify_attempts", config.notify_attempts);
  Read(table, "offload", "notify_backoff_ms", config.notify_backoff_ms);
  Read(table, "offload", "notify_timeout_ms", config.notify_timeout_ms);

  if (config.tls_cert_file.empty() != config.tls_key_file.empty())
    throw std::runtime_error("config: tls.cert_file and tls.key_file go together");
  if (config.max_frame_bytes < 1024)
    throw std::runtime_error("config: limits.max_frame_bytes must be at least 1024");
  if (config.retention_s == 0)
    throw std::runtime_error("config: delivery.retention_s must be positive");
  if (config.offload_tick_ms == 0 || config.notify_attempts == 0)
    throw std::runtime_error(
        "config: offload.tick_ms and offload.notify_attempts must be positive");
  return config;
}

offload::Topology LoadTopology(const Config& config) {
  if (config.topology_path.empty()) {
    const Route& main = config.main_route;
    return offload::Topology::MainOnly(offload::MainSite{main.site, main.dnai, main.psa});
  }
  std::ifstream in(config.topology_path);
  if (!in) throw std::runtime_error("cannot read topology file " + config.topology_path);
  std::stringstream text;
  text << in.rdbuf();
  auto topology = offload::Topology::Parse(text.str());
  if (!topology) throw std::runtime_error(config.topology_path + ": " + topology.error().message);
  return std::move(topology).value();
}

void SetListen(Config& config, const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    throw std::runtime_error("listen address '" + listen + "' must be HOST:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  std::size_t used = 0;
  unsigned long value = 0;
  try {
    value = std::stoul(port, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != port.size() || value > 65535) {
    throw std::runtime_error("listen port '" + port + "' must be a number from 0 to 65535");
  }
  config.listen_host = host;
  config.listen_port = static_cast<std::uint16_t>(value);
}

}  // namespace sb::server
