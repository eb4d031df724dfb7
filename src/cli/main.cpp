// The `switchboard` command: one binary, one subcommand per role.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "server/config.h"
#include "server/exchange_server.h"

namespace {

void SetUpLogging(const std::string& level) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

int Serve(const std::string& config_path, const std::string& listen, const std::string& data,
          const std::string& port_file, const std::string& log_level) {
  sb::server::Config config;
  if (!config_path.empty())
    config = sb::server::LoadConfigFile(config_path);
  if (!listen.empty())
    sb::server::SetListen(config, listen);
  if (!data.empty())
    config.data_dir = data;
  if (!port_file.empty())
    config.port_file = port_file;
  if (!log_level.empty())
    config.log_level = log_level;
  SetUpLogging(config.log_level);
  return sb::server::RunExchange(config);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Switchboard: an exchange that lets users of independent platforms message each other"};
  app.require_subcommand(1);

  std::string config_path, listen, data, port_file, log_level;
  auto* serve = app.add_subcommand("serve", "Run the exchange");
  serve->add_option("--config", config_path, "TOML configuration file")->check(CLI::ExistingFile);
  serve->add_option("--listen", listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  serve->add_option("--data", data, "Data folder (default ./switchboard-data)");
  serve->add_option("--port-file", port_file, "Write the bound port to this file once listening");
  serve->add_option("--log-level", log_level, "trace, debug, info, warn or error");

  CLI11_PARSE(app, argc, argv);

  try {
    if (serve->parsed())
      return Serve(config_path, listen, data, port_file, log_level);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard: %s\n", e.what());
    return 1;
  }
  return 0;
}
