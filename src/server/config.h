// The exchange's configuration: a TOML file, then command-line overrides.
//
//   listen = "127.0.0.1:8080"        # HOST:PORT; port 0 picks a free one
//   data = "switchboard-data"        # folder of the store and the operator token
//   log_level = "info"               # trace, debug, info, warn, error
//   topology = "topology.json"       # operator network (docs/offload.md); relative paths are read
//                                    # from the config file's folder; absent: main anchor only
//                                    # (a top-level key: it must come before the first [table])
//
//   [limits]
//   max_frame_bytes = 131072         # largest terminal frame
//   max_body_bytes = 33554432        # largest HTTP body
//   hello_timeout_ms = 10000         # time a new connection has to say hello
//   max_connections_per_address = 256  # open connections from one IP; over it: 429 (0: none)
//   max_connections = 10000          # open connections in all; over it: closed on accept (0: none)
//   idle_timeout_s = 60              # WebSocket ping after this much silence; drop after twice
//   account_rate = 1000              # sends a second per sender account (0: no limit)
//   account_burst = 10000            # sends an account may save up
//   platform_rate = 20000            # sends a second per sender platform (0: no limit)
//   platform_burst = 100000
//   connection_frame_rate = 20000    # frames a second per terminal connection (0: no limit)
//   connection_frame_burst = 50000   # acks count: a terminal catching up acks as it reads
//   connection_flood_close = 1000    # refused frames in one flood before the connection closes
//   api_rate = 100                   # HTTP API calls a second per platform key (0: no limit)
//   api_burst = 1000
//   auth_failure_rate = 1            # failed HTTP authentications a second per source IP (a
//   auth_failure_burst = 20          # fraction is allowed); past them every /v1 call from the IP
//                                    # gets 429 until the bucket refills (0: no limit)
//   max_send_queue_bytes = 4194304   # bytes waiting to be written to one terminal (0: no bound)
//
//   [tls]                            # both set: the listener speaks only HTTPS and wss
//   cert_file = "cert.pem"           # PEM certificate chain, server certificate first
//   key_file = "key.pem"             # PEM private key; relative paths as for `topology`
//
//   [store]
//   durable = true                   # false: write-behind, no fsync (docs/durability.md)
//
//   [delivery]
//   retention_s = 604800             # how long a message waits for its devices
//   account_queue_quota = 100000     # messages waiting for one account at most
//   dedup_window_s = 86400           # how long a client id is remembered
//
//   [auth]
//   clock_skew_s = 60                # tolerance on token exp and iat
//   max_token_lifetime_s = 86400     # terminal tokens living longer (exp - iat, exp - now) are
//                                    # refused with bad_token (0: no bound)
//
//   [main]                           # the main anchor, the route when nothing is offloaded
//   site = "main"                    # (ignored when a topology file is given: its main wins)
//   dnai = ""
//   psa = "psa-main"
//
//
//   [offload]
//   tick_ms = 1000                   # how often paths are checked for validity windows
//   notify_attempts = 5              # webhook attempts per notification
//   notify_backoff_ms = 500          # delay before the second attempt; doubles after each
//   notify_timeout_ms = 5000         # per attempt
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/message.h"
#include "offload/topology.h"

namespace sb::server {

struct Config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::string data_dir = "switchboard-data";
  std::string log_level = "info";
  std::string port_file;  // when set, the bound port is written there once listening

  std::size_t max_frame_bytes = 128 * 1024;
  std::size_t max_body_bytes = 32 * 1024 * 1024;
  std::int64_t hello_timeout_ms = 10000;
  std::size_t max_connections_per_address = 256;
  std::size_t max_connections = 10000;

  std::string tls_cert_file;  // both empty: plain HTTP
  std::string tls_key_file;
  std::int64_t idle_timeout_s = 60;
  std::int64_t account_rate = 1000;
  std::int64_t account_burst = 10000;
  std::int64_t platform_rate = 20000;
  std::int64_t platform_burst = 100000;
  // TODO(api): acks count as frames, so a terminal draining a large mailbox needs a high frame
  // rate; acks of delivered messages could be budgeted apart, allowing a much lower default.
  std::int64_t connection_frame_rate = 20000;
  std::int64_t connection_frame_burst = 50000;
  std::int64_t connection_flood_close = 1000;
  std::int64_t api_rate = 100;
  std::int64_t api_burst = 1000;
  double auth_failure_rate = 1;  // fractions allowed
  std::int64_t auth_failure_burst = 20;
  std::size_t max_send_queue_bytes = 4 * 1024 * 1024;

  bool durable = true;

  std::int64_t retention_s = 7 * 24 * 3600;
  std::size_t account_queue_quota = 100000;
  std::int64_t dedup_window_s = 24 * 3600;

  std::int64_t clock_skew_s = 60;
  std::int64_t max_token_lifetime_s = 24 * 3600;

  Route main_route{"main", "", "", "psa-main"};

  std::string topology_path;  // absolute, or relative to the working folder; empty: none
  std::int64_t offload_tick_ms = 1000;
  std::int64_t notify_attempts = 5;
  std::int64_t notify_backoff_ms = 500;
  std::int64_t notify_timeout_ms = 5000;
};

// The operator network: the topology file when one is configured, else the main anchor of [main].
// Throws std::runtime_error naming the file and the problem.
offload::Topology LoadTopology(const Config& config);

// Reads a TOML file over the defaults; throws std::runtime_error naming the file, key and problem.
Config LoadConfigFile(const std::string& path);

// Parses "HOST:PORT" or "[V6]:PORT" into the config; throws std::runtime_error when malformed.
void SetListen(Config& config, const std::string& listen);

}  // namespace sb::server
