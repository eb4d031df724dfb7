// Private to src/net: what the listener and the HTTP and WebSocket sessions share.
//
// Threading: everything here lives on the server's EventLoop thread; nothing is locked. The
// exceptions are ServerCore::live and ServerCore::stats, atomics that any thread may read.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "net/server.h"

namespace sb::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// The byte streams under HTTP and WebSocket, the one place that names them. The sessions are
// templates over the two; each is instantiated for both, in its own .cpp file.
using Transport = beast::tcp_stream;
using TlsTransport = beast::ssl_stream<Transport>;

template <typename Stream>
inline constexpr bool kIsTls = std::is_same_v<Stream, TlsTransport>;

// A request as read off the wire; also what a WebSocket handshake starts from.
using WireRequest = http::request<http::string_body>;

// The Server header on every HTTP response and WebSocket handshake.
inline constexpr char kServerName[] = "switchboard";

// Completion token that turns errors into a returned error_code instead of an exception: on the
// network path a failed operation is an ordinary outcome.
inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// The logger named "net": the application's when it registered one before the first use, else a
// clone of the default logger.
spdlog::logger& NetLogger();

// The completion of a detached coroutine. Sessions catch what they expect; an exception that still
// escapes is a bug, logged here rather than thrown out of EventLoop::Run().
struct LogUnexpected {
  void operator()(const std::exception_ptr& error) const;
};

// {"error":{"code":..,"message":..}} as the contract spells every error.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message);

// One live connection as the server sees it, for Shutdown() and the server's destructor.
class Session {
 public:
  virtual ~Session() = default;

  // Closes gracefully: a WebSocket gets 1001 "going away" after what is queued; an HTTP
  // connection finishes the request in hand, if any, then closes.
  virtual void GoAway() = 0;
  // Closes at once. A WebSocket's OnWsClose runs before Abort() returns.
  virtual void Abort() = 0;
  // Called every ServerCore::SweepPeriod() with the time of the sweep, for timeouts that would
  // otherwise need a timer per connection (WebSocket keep-alive). May close the session.
  virtual void Tick(std::chrono::steady_clock::time_point /*now*/) {}
};

struct ServerCore;

// A connection's place in the per-address count. Move-only; releasing it (explicitly, or by
// destruction) gives the place back. An empty Admission (the connection was over the bound) holds
// no place. The ServerCore must outlive it: sessions hold both, the core declared first.
class Admission {
 public:
  Admission() = default;
  using Entry = std::pair<const std::string, std::size_t>;  // an element of ServerCore::per_address
  Admission(ServerCore* core, Entry* entry) : core_(core), entry_(entry) {}
  Admission(Admission&& other) noexcept;
  Admission& operator=(Admission&& other) noexcept;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission() { Release(); }

  bool admitted() const { return core_ != nullptr; }
  void Release();

 private:
  ServerCore* core_ = nullptr;
  Entry* entry_ = nullptr;  // stays put: the count it holds keeps the element in the map
};

// The listener and the registry of live sessions. Sessions hold it by shared_ptr, so it outlives
// the Server object; `handler` is cleared when the Server is destroyed so that no callback reaches
// a handler that may be gone.
struct ServerCore {
  ServerCore(asio::io_context& io, ServerOptions options, Handler& handler);

  void Register(std::uint64_t id, std::weak_ptr<Session> session);
  void Unregister(std::uint64_t id);
  // Takes a place for a connection from `address` (an IP without port); an empty Admission when
  // the address already holds max_connections_per_address.
  Admission Admit(const std::string& address);

  // How often live sessions are ticked: a quarter of the WebSocket idle timeout, within bounds.
  std::chrono::milliseconds SweepPeriod() const;

  asio::io_context& io;
  const ServerOptions options;
  Handler* handler;
  tcp::acceptor acceptor;
  asio::steady_timer accept_backoff;
  asio::steady_timer sweep;  // ticks every live session; see Session::Tick
  bool sweeping = false;     // the sweep was started (it runs once per core)
  std::uint16_t port = 0;
  bool accepting = false;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::atomic<std::size_t> live{0};
  std::optional<asio::ssl::context> tls;  // set when the options name a certificate and key
  std::unordered_map<std::string, std::size_t> per_address;  // admitted connections by address
  ServerStats stats;
};

// Serves HTTP on an accepted connection until it closes or upgrades to a WebSocket; opens with
// the TLS handshake when core->tls is set. A connection without admission answers its first
// request with 429 and closes.
void StartHttpSession(const std::shared_ptr<ServerCore>& core, tcp::socket socket, std::uint64_t id,
                      std::string remote, Admission admission);

// Ticks every live session each SweepPeriod() until the core is gone or `sweep` is cancelled.
void StartSweep(const std::shared_ptr<ServerCore>& core);

// Completes the WebSocket handshake for `upgrade` (already read from `stream`) and serves the
// connection. Keeps the id and the admission the connection had as an HTTP session. Defined in
// ws_session.cpp for Transport and TlsTransport.
template <typename Stream>
void StartWsSession(const std::shared_ptr<ServerCore>& core, Stream stream, WireRequest upgrade,
                    std::uint64_t id, std::string remote, Admission admission);

}  // namespace sb::net
