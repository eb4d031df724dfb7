// The null relay: the cheapest thing that can carry the benchmark's traffic on this machine. It
// accepts TCP connections, reads an 8-byte pair number from each, joins the two connections of a
// pair, and from then on copies bytes from each to the other with no parsing at all. One thread.
#pragma once

#include <string>

namespace sb::bench {

// Serves on `host`:`port` (port 0 picks one) until killed; writes the bound port to `port_file`
// when not empty. Throws std::runtime_error when it cannot listen.
void RunRelayServer(const std::string& host, int port, const std::string& port_file);

}  // namespace sb::bench
