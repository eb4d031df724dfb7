// The reference platform's configuration: a TOML file, then command-line flags over it.
//
//   exchange = "http://127.0.0.1:8080"   # where the exchange's HTTP API is reached; https://
//                                         # speaks TLS and verifies the exchange's certificate
//   exchange_ca_file = ""                 # PEM authorities trusted for https; empty: the system's
//   exchange_ws = ""                      # WebSocket URL given to terminals; empty derives it
//                                         # from `exchange` as ws://HOST:PORT/v1/terminal (wss://
//                                         # for an https exchange)
//   listen = "127.0.0.1:8081"             # HOST:PORT of this platform's web page and /api
//   data = "platform-data"                # users, saved registration and signing key
//   name = "Meta World"                   # display name, sent at registration
//   web = ""                              # folder of the browser client; empty finds it
//   users = ""                            # a TOML file of [[user]] tables, like below
//   log_level = "info"
//   token_ttl_s = 43200                   # lifetime of the terminal tokens it mints
//   sync_interval_s = 300                 # full account reconciliation with the exchange
//   exchange_wait_s = 30                  # how long start-up waits for the exchange
//
//   [[user]]                              # seed users, created when absent
//   account = "alice"
//   password = "alice-pass"
//   discoverable = true
//
//   [offload_policy]                      # sent to the exchange at start when present
//   kind = "location"
//   params = { tais = ["tai-1"] }
//
// The enrollment token is never read from the file by default: give it with
// --enrollment-token or SWITCHBOARD_ENROLLMENT_TOKEN (a file key `enrollment_token` is accepted
// too, for setups that keep secrets in a 0600 config file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sb::platform {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// Where the exchange's HTTP API is, and whether it is reached over TLS (https).
struct ExchangeEndpoint {
  HostPort address;
  bool tls = false;
};

// A user created at start when its account does not exist yet.
struct SeedUser {
  std::string account;
  std::string password;
  bool discoverable = true;
};

// What PUT /v1/platforms/{pid}/offload-policy receives: {kind, params}.
struct OffloadPolicy {
  std::string kind;
  std::string params_json = "{}";  // a JSON object
};

struct PlatformConfig {
  std::string exchange_url = "http://127.0.0.1:8080";
  // For an https exchange: PEM authorities to trust; empty trusts the system's store.
  std::string exchange_ca_file;
  std::string exchange_ws;
  HostPort listen{"127.0.0.1", 8081};
  std::string data_dir = "platform-data";
  std::string name;
  std::string enrollment_token;  // secret: never logged
  std::vector<SeedUser> seed_users;
  std::string web_dir;
  std::optional<OffloadPolicy> offload_policy;
  std::string log_level = "info";
  std::string port_file;  // when set, the bound port is written there once listening
  // With both set, the platform's own listener serves HTTPS (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::int64_t token_ttl_s = 12 * 3600;
  std::int64_t sync_interval_s = 300;
  std::int64_t exchange_wait_s = 30;
};

// Reads a TOML file over the defaults; throws std::runtime_error naming the file, key and problem.
PlatformConfig LoadPlatformConfigFile(const std::string& path);

// Appends the [[user]] tables of a TOML users file to `config.seed_users`; throws like above.
void LoadUsersFile(PlatformConfig& config, const std::string& path);

// "HOST:PORT" or "[V6]:PORT"; throws std::runtime_error when malformed.
HostPort ParseHostPort(const std::string& text);

// "http://HOST:PORT" or "https://HOST:PORT" (a trailing slash is allowed; the port defaults to 80
// and 443); throws std::runtime_error for anything else.
ExchangeEndpoint ParseExchangeUrl(const std::string& url);

// "account:password" (split at the first colon, so a password may hold colons); throws
// std::runtime_error when either part is empty.
SeedUser ParseSeedUser(const std::string& text);

// ws://HOST:PORT/v1/terminal for the configured exchange (wss:// when it is reached over https),
// unless `exchange_ws` overrides it.
std::string TerminalUrl(const PlatformConfig& config);

}  // namespace sb::platform
