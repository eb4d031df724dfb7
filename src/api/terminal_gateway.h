// The terminal protocol over WebSocket: authenticates each connection with `hello`, decodes frames
// and hands them to the exchange, and encodes what the exchange sends back.
//
// A frame that cannot be read is answered with an `error` (or, for a `send` whose id could be
// read, a `rejected`) and the connection stays open: one bad frame never costs a terminal its
// other messages. Only a failed `hello`, a missing `hello` within the timeout, a frame flood, the
// exchange dropping the terminal, and a credential that stopped being valid close the connection.
//
// Credentials of connected terminals: every `credential_check` the gateway looks at each
// authenticated connection. One whose token expired (`exp` plus the clock skew has passed) is
// sent `error` token_expired and closed (1008); one whose token was signed by a key its platform
// has since removed from its JWK set is sent `error` bad_token and closed. The state this needs is
// the token's `exp` and the signing key, kept per connection.
//
// Frame flood: every frame (of any kind, readable or not) takes a token from its connection's
// bucket (`frame_rate`). A frame beyond it is not handled: it is answered `rejected` (a `send`
// whose id can be read) or `error`, code `rate_limited`, with `retry_after_ms`. A connection that
// has `flood_close` frames refused without its bucket refilling completely in between is closed
// (`error` rate_limited, close 1008).
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
  delivery::RateLimit frame_rate;  // frames a second per connection, and burst; rate 0: no limit
  std::size_t flood_close = 1000;  // refused frames in one flood before the connection is closed
  // How often connected terminals' tokens are checked for expiry and removed keys.
  std::chrono::milliseconds credential_check{1000};
  // Monotonic milliseconds for the frame buckets; tests replace it to move time by hand.
  std::function<std::int64_t()> monotonic_ms = delivery::ExchangeOptions::SteadyMillis;
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

  bool AdmitFrame(Session& session, std::string_view text);
  void Hello(Session& session, HelloFrame& hello);
  void AnswerFrameError(Session& session, const Error& error);
  void CheckCredentials();

  net::EventLoop& loop_;
  registry::Registry& registry_;
  delivery::Exchange& exchange_;
  MetricsRegistry& metrics_;
  GatewayOptions options_;
  LocationSink location_sink_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  Gauge& connections_;
  std::unique_ptr<net::Timer> credential_timer_;
};

}  // namespace sb::api
