// The terminal protocol over WebSocket: authenticates each connection with `hello`, decodes frames
// and hands them to the exchange, and encodes what the exchange sends back.
//
// A frame that cannot be read is answered with an `error` (or, for a `send` whose id could be
// read, a `rejected`) and the connection stays open: one bad frame never costs a terminal its
// other messages. Only a failed `hello`, a missing `hello` within the timeout, and the exchange
// dropping the terminal close the connection.
//
// Thread-safety: every call runs on the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/codec.h"
#include "core/metrics.h"
#include "delivery/exchange.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "registry/registry.h"

namespace sb::api {

struct GatewayOptions {
  std::chrono::milliseconds hello_timeout{10000};
};

// Reports a terminal's own location (from a `location` frame).
using LocationSink = std::function<void(delivery::TerminalId terminal, const Address& address,
                                        const std::string& tai, const std::string& cell)>;

class TerminalGateway {
 public:
  TerminalGateway(net::EventLoop& loop, registry::Registry& registry, delivery::Exchange& exchange,
                  MetricsRegistry& metrics, GatewayOptions options);
  ~TerminalGateway();

  void SetLocationSink(LocationSink sink) { location_sink_ = std::move(sink); }

  void OnOpen(const std::shared_ptr<net::WsConnection>& conn);
  void OnText(const std::shared_ptr<net::WsConnection>& conn, std::string_view text);
  void OnRefused(const std::shared_ptr<net::WsConnection>& conn, net::WsRefusal why);
  void OnClose(const std::shared_ptr<net::WsConnection>& conn);

  std::size_t ConnectionCount() const { return sessions_.size(); }

 private:
  class Session;

  void Hello(Session& session, HelloFrame& hello);
  void AnswerFrameError(Session& session, const Error& error);

  net::EventLoop& loop_;
  registry::Registry& registry_;
  delivery::Exchange& exchange_;
  MetricsRegistry& metrics_;
  GatewayOptions options_;
  LocationSink location_sink_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  Gauge& connections_;
};

}  // namespace sb::api
