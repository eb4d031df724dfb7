// A TCP connection for the load generator's protocol adapters: connects from a chosen loopback
// source address, queues writes (coalescing whatever is written while a write is in flight) and
// hands received bytes to a parser. Keeps Asio out of the adapters that speak plain byte
// protocols (NATS, MQTT, RESP, the null relay).
//
// Threading: everything runs on the io_context's one thread; callbacks are called there. The
// stream keeps itself alive while an operation is pending (its handlers hold a shared_ptr).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "peer.h"

namespace sb::bench {

class ByteStream {
 public:
  // Consumes a prefix of `bytes` (everything received and not yet consumed); returns its length.
  using Parser = std::function<std::size_t(std::string_view bytes)>;
  // Called once when connecting fails, or when the connection breaks or is closed by the peer.
  using FailureHandler = std::function<void(const std::string& what)>;

  static std::shared_ptr<ByteStream> Create(IoContext& io);
  virtual ~ByteStream() = default;

  // Connects to `target`, then calls `done` with an empty string, or with the reason it failed.
  // Reading starts once connected; received bytes go to `parser`.
  virtual void Connect(const Target& target, Parser parser, FailureHandler on_failure,
                       std::function<void(const std::string& error)> done) = 0;
  // Queues bytes for sending; safe to call before Connect completes (they wait).
  virtual void Write(std::string_view bytes) = 0;
};

}  // namespace sb::bench
