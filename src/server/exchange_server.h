// The `serve` command: wires the store, registry, exchange, APIs and listener together, runs them
// on one event loop, and shuts down gracefully on SIGTERM or SIGINT.
//
// Start-up: open the store and load its snapshot into memory, bind the listener, write the port
// file, then answer /healthz with 200. Shutdown: stop accepting, answer `unavailable` to new API
// calls, let the store commit what it holds (so every `accepted` that is owed goes out), close
// every connection, and stop.
#pragma once

#include "server/config.h"

namespace sb::server {

// Runs the exchange until a termination signal; returns the process exit code. Throws
// std::runtime_error on a start-up failure (unreadable store, address in use).
int RunExchange(const Config& config);

// The operator token: SWITCHBOARD_OPERATOR_TOKEN when set, else the content of
// `<data_dir>/operator-token`, which is created (mode 0600) with a fresh token when absent.
std::string ResolveOperatorToken(const std::string& data_dir);

}  // namespace sb::server
