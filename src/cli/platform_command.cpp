// `switchboard platform`: the reference platform server (src/platform/platform_server.h).
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "platform/config.h"
#include "platform/platform_server.h"

namespace sb::cli {
namespace {

struct PlatformFlags {
  std::string config_path;
  std::string exchange;
  std::string exchange_ws;
  std::string exchange_ca_file;
  std::string listen;
  std::string data;
  std::string name;
  std::string enrollment_token;
  std::string users_file;
  std::vector<std::string> seed_users;
  std::string web;
  std::string port_file;
  std::string log_level;
  std::string tls_cert;
  std::string tls_key;
};

// The configuration file first, then the flags over it, then the environment for the secret.
platform::PlatformConfig BuildConfig(const PlatformFlags& flags) {
  platform::PlatformConfig config;
  if (!flags.config_path.empty()) config = platform::LoadPlatformConfigFile(flags.config_path);
  if (!flags.exchange.empty()) {
    platform::ParseExchangeUrl(flags.exchange);
    config.exchange_url = flags.exchange;
  }
  if (!flags.exchange_ca_file.empty()) config.exchange_ca_file = flags.exchange_ca_file;
  if (!flags.exchange_ws.empty()) config.exchange_ws = flags.exchange_ws;
  if (!flags.listen.empty()) config.listen = platform::ParseHostPort(flags.listen);
  if (!flags.data.empty()) config.data_dir = flags.data;
  if (!flags.name.empty()) config.name = flags.name;
  if (!flags.users_file.empty()) platform::LoadUsersFile(config, flags.users_file);
  for (const std::string& seed : flags.seed_users) {
    config.seed_users.push_back(platform::ParseSeedUser(seed));
  }
  if (!flags.web.empty()) config.web_dir = flags.web;
  if (!flags.port_file.empty()) config.port_file = flags.port_file;
  if (!flags.log_level.empty()) config.log_level = flags.log_level;
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    throw std::runtime_error("--tls-cert and --tls-key go together");
  }
  if (!flags.tls_cert.empty()) {
    config.tls_cert_file = flags.tls_cert;
    config.tls_key_file = flags.tls_key;
  }

  if (!flags.enrollment_token.empty()) {
    config.enrollment_token = flags.enrollment_token;
  } else if (const char* env = std::getenv("SWITCHBOARD_ENROLLMENT_TOKEN"); env && *env) {
    config.enrollment_token = env;
  }
  return config;
}

}  // namespace

void AddPlatformCommand(CLI::App& app) {
  auto flags = std::make_shared<PlatformFlags>();
  auto* cmd = app.add_subcommand(
      "platform", "Run the reference platform: users, log-in, terminal tokens, the web client");
  cmd->add_option("--config", flags->config_path, "TOML configuration file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--exchange", flags->exchange,
                  "The exchange's HTTP API, http://HOST:PORT or https://HOST:PORT (default "
                  "http://127.0.0.1:8080)");
  cmd->add_option("--exchange-ca-file", flags->exchange_ca_file,
                  "PEM file of the authorities trusted for an https exchange (default: the "
                  "system's)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--exchange-ws", flags->exchange_ws,
                  "WebSocket URL given to terminals (default derived from --exchange)");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to serve on (default 127.0.0.1:8081)");
  cmd->add_option("--data", flags->data, "Data folder (default ./platform-data)");
  cmd->add_option("--name", flags->name, "Display name, needed to register");
  cmd->add_option("--enrollment-token", flags->enrollment_token,
                  "Single-use enrollment token from the operator (or SWITCHBOARD_ENROLLMENT_TOKEN; "
                  "the environment keeps it out of process listings)");
  cmd->add_option("--users", flags->users_file, "TOML file of [[user]] account/password tables")
      ->check(CLI::ExistingFile);
  cmd->add_option("--seed-user", flags->seed_users,
                  "ACCOUNT:PASSWORD created at start when absent; repeatable");
  cmd->add_option("--web", flags->web, "Folder of the browser client (default: found)");
  cmd->add_option("--port-file", flags->port_file,
                  "Write the bound port to this file once listening");
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn or error");
  cmd->add_option("--tls-cert", flags->tls_cert, "PEM certificate: serve HTTPS")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", flags->tls_key, "PEM private key of the certificate")
      ->check(CLI::ExistingFile);
  cmd->callback([flags] {
    const platform::PlatformConfig config = BuildConfig(*flags);
    SetUpLogging(config.log_level);
    ExitCode() = platform::RunPlatform(config);
  });
}

}  // namespace sb::cli
