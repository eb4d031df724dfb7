// Many terminals at once from one thread: non-blocking connects, the WebSocket upgrade and a
// `hello` each, driven by epoll, until each got its `welcome`. Only what a crowd test needs: the
// frames it reads are searched for the welcome, not decoded.
//
// Thread-safety: one call at a time; it blocks the calling thread until done or timed out.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sb::fault {

struct CrowdResult {
  std::size_t welcomed = 0;  // connections that got `welcome`
  std::size_t failed = 0;    // refused, reset or closed before welcome
};

// Opens one connection per hello frame (JSON text) to 127.0.0.1:`port`, all at once, and keeps
// them open until every one is welcomed or failed, or `timeout` passes; then closes them all.
// Connections come from the source addresses 127.0.0.1 to 127.0.0.`sources` in turn, so that no
// one address holds more than its share (the exchange limits connections per address).
CrowdResult ConnectCrowd(std::uint16_t port, const std::vector<std::string>& hellos, int sources,
                         std::chrono::milliseconds timeout);

// Raises this process's soft limit of open files to its hard limit; returns the new soft limit.
std::size_t RaiseOpenFileLimit();

}  // namespace sb::fault
