// Socket helpers shared by the load generator's connections.
#pragma once

#include <string>

namespace sb::bench {

// Binds the open IPv4 socket `fd` to `local_address` (nothing when empty) without reserving a port,
// so that several loopback source addresses multiply the ephemeral ports available. Returns an
// empty string, or what failed.
std::string BindToSource(int fd, const std::string& local_address);

// Raises this process's open-file limit to its hard limit; returns the limit now in force.
long RaiseOpenFileLimit();

}  // namespace sb::bench
