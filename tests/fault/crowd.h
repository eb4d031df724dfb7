// Many terminals at once from one thread: non-blocking connects, the WebSocket upgrade and a
// `hello` each, driven by epoll, until each got its `welcome`. Only what a crowd test needs: the
// frames it reads are searched for the welcome, not decoded.
//
// A connection that fails before the exchange answered its upgrade is opened again, a few times
// with a growing pause, as a terminal reconnects: a burst of thousands of SYNs overflows the
// kernel's SYN queue (net.ipv4.tcp_max_syn_backlog: 2048 on the machines seen), the rest go through
// SYN cookies, and the kernel resets a few of those handshakes before the exchange ever sees them.
// A connection the exchange answered with a refusal is not retried.
//
// Thread-safety: one call at a time; it blocks the calling thread until done or timed out.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sb::fault {

inline constexpr int kCrowdConnectAttempts = 5;

struct CrowdResult {
  std::size_t welcomed = 0;    // connections that got `welcome`
  std::size_t failed = 0;      // refused, reset or closed before welcome, retries spent
  std::size_t reconnects = 0;  // connections opened again after failing before the upgrade
};

// Opens one connection per hello frame (JSON text) to 127.0.0.1:`port`, all at once, and keeps
// them open until every one is welcomed or failed, or `timeout` passes; then closes them all.
// A connection failing before its upgrade is answered is retried up to `kCrowdConnectAttempts`
// times in all.
// Connections come from the source addresses 127.0.0.1 to 127.0.0.`sources` in turn, so that no
// one address holds more than its share (the exchange limits connections per address).
CrowdResult ConnectCrowd(std::uint16_t port, const std::vector<std::string>& hellos, int sources,
                         std::chrono::milliseconds timeout);

// Raises this process's soft limit of open files to its hard limit; returns the new soft limit.
std::size_t RaiseOpenFileLimit();

}  // namespace sb::fault
