#include <memory>
#include <string>

#include "cli/commands.h"
#include "server/config.h"
#include "server/exchange_server.h"

namespace sb::cli {
namespace {

struct ServeOptions {
  std::string config_path;
  std::string listen;
  std::string data;
  std::string port_file;
  std::string log_level;
  std::string tls_cert;
  std::string tls_key;
};

void Serve(const ServeOptions& options) {
  server::Config config;
  if (!options.config_path.empty()) config = server::LoadConfigFile(options.config_path);
  if (!options.listen.empty()) server::SetListen(config, options.listen);
  if (!options.data.empty()) config.data_dir = options.data;
  if (!options.port_file.empty()) config.port_file = options.port_file;
  if (!options.log_level.empty()) config.log_level = options.log_level;
  if (!options.tls_cert.empty()) config.tls_cert_file = options.tls_cert;
  if (!options.tls_key.empty()) config.tls_key_file = options.tls_key;
  SetUpLogging(config.log_level);
  ExitCode() = server::RunExchange(config);
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto* serve = app.add_subcommand("serve", "Run the exchange");
  serve->add_option("--config", options->config_path, "TOML configuration file")
      ->check(CLI::ExistingFile);
  serve->add_option("--listen", options->listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  serve->add_option("--data", options->data, "Data folder (default ./switchboard-data)");
  serve->add_option("--port-file", options->port_file,
                    "Write the bound port to this file once listening");
  serve->add_option("--log-level", options->log_level, "trace, debug, info, warn or error");
  serve
      ->add_option("--tls-cert", options->tls_cert,
                   "PEM certificate chain: serve HTTPS and wss only (with --tls-key)")
      ->check(CLI::ExistingFile);
  serve->add_option("--tls-key", options->tls_key, "PEM private key of --tls-cert")
      ->check(CLI::ExistingFile);
  serve->callback([options] { Serve(*options); });
}

}  // namespace sb::cli
