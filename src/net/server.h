// HTTP and WebSocket serving. The server knows no domain: it parses HTTP requests and WebSocket
// frames, hands them to a `Handler`, and writes what the handler answers.
//
// Threading: the server runs on one EventLoop; every Handler callback runs on that loop's thread,
// and the Handler must call `Respond`, `WsConnection::Send` and `WsConnection::Close` from that
// thread too.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "net/event_loop.h"

namespace sb::net {

struct HttpRequest {
  std::string method;  // upper case, e.g. "GET"
  std::string path;    // the target without the query, still percent-encoded
  std::string query;   // after '?', without it; empty when none
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string remote;  // peer address, "ip:port"

  // A header's value, or empty when absent.
  std::string_view Header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;
};

// Answers one request; call exactly once. Safe to call later (after the handler returned), on the
// loop thread; a response for a connection that has gone away is dropped.
using Respond = std::function<void(HttpResponse)>;

// Why a WebSocket message was not handed over as text.
enum class WsRefusal {
  kBinary,    // a binary message; the connection stays open
  kTooLarge,  // longer than max_frame_bytes; it was read and dropped, the connection stays open
};

// One accepted WebSocket connection. Owned by the server; handlers keep shared_ptrs as long as
// they want to send. After the close callback, Send() and Close() do nothing.
class WsConnection {
 public:
  virtual ~WsConnection() = default;

  // Process-unique id, for logs and maps.
  virtual std::uint64_t id() const = 0;
  virtual const std::string& remote() const = 0;
  // Queues a text message (copied before the call returns). Messages are written in the order
  // queued.
  virtual void Send(std::string_view text) = 0;
  // Sends a close frame after what is queued, then closes.
  virtual void Close(std::uint16_t code, std::string reason) = 0;
  // Bytes queued and not yet handed to the socket, WebSocket framing included.
  virtual std::size_t QueuedBytes() const = 0;
  virtual bool IsOpen() const = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;

  virtual void OnHttp(HttpRequest request, Respond respond) = 0;

  // A WebSocket upgrade on the configured path has completed.
  virtual void OnWsOpen(const std::shared_ptr<WsConnection>& conn) = 0;
  // `text` points into the server's read buffer: valid during the call only.
  virtual void OnWsText(const std::shared_ptr<WsConnection>& conn, std::string_view text) = 0;
  virtual void OnWsRefused(const std::shared_ptr<WsConnection>& conn, WsRefusal why) = 0;
  // Called once, when the connection is gone (either side closed, or an error).
  virtual void OnWsClose(const std::shared_ptr<WsConnection>& conn) = 0;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 picks a free port; see Server::port()
  std::string websocket_path = "/v1/terminal";
  std::size_t max_frame_bytes = 128 * 1024;
  std::size_t max_body_bytes = 32 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds http_idle_timeout{60};
  // WebSocket keep-alive: a ping after this much silence, and the connection is dropped when
  // nothing arrives for twice as long. Checked by a sweep every quarter of it (at least every
  // 100 ms, at most every 5 s), so either may come that much later.
  std::chrono::seconds ws_idle_timeout{60};

  // TLS: when both files are set (PEM; the certificate file may hold the chain), every connection
  // must open with a TLS handshake (TLS 1.2 or later). Both empty: plain TCP. Read once, in the
  // Server's constructor, which throws std::runtime_error when they cannot be loaded.
  std::string tls_cert_file;
  std::string tls_key_file;

  // Connections open at once from one source address (IP, port ignored); a connection over it is
  // answered 429 `rate_limited` to its first request (a WebSocket upgrade included) and closed.
  // 0: no bound.
  std::size_t max_connections_per_address = 256;
  // Connections open at once in all; one over it is closed on accept without a word. 0: no bound.
  std::size_t max_connections = 10000;
};

// What the listener has seen, for metrics. Written on the loop thread; read from any thread.
struct ServerStats {
  std::atomic<std::uint64_t> accepted{0};             // connections taken from the listener
  std::atomic<std::uint64_t> refused_per_address{0};  // answered 429: too many from one address
  std::atomic<std::uint64_t> refused_total{0};        // closed on accept: max_connections reached
  std::atomic<std::uint64_t> tls_handshake_failures{0};
};

class Server {
 public:
  // Binds and listens at once; throws std::runtime_error when the address cannot be bound.
  Server(EventLoop& loop, ServerOptions options, Handler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (useful when options.port was 0).
  std::uint16_t port() const;
  // Starts accepting connections.
  void Start();
  // Stops accepting; open connections stay until closed by the handler or by Shutdown().
  void StopAccepting();
  // Closes every open connection (WebSocket close code 1001, "going away").
  void Shutdown();
  std::size_t ConnectionCount() const;
  // Whether connections are served over TLS.
  bool UsesTls() const;
  // Counters of this server; valid as long as the Server. Safe to read from any thread.
  const ServerStats& stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sb::net
