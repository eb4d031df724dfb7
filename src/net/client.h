// Blocking HTTP/1.1 and WebSocket clients for talking to an exchange: used by tests, the client
// library and the chat CLI. They keep Beast and Asio inside src/net (the header is Boost-free).
//
// Threading: each client owns its own io_context and runs it only inside its own calls, on the
// calling thread. A client is not thread-safe: use one from one thread at a time. Different
// clients may be used from different threads at once.
//
// Errors: failures to reach the peer, and timeouts, throw std::runtime_error. An HTTP error status
// is not a failure: it is returned like any other reply. Over TLS, a certificate that does not
// verify (untrusted, expired, or not for the host) is a failure to reach the peer.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sb::net {

inline constexpr std::chrono::milliseconds kDefaultClientTimeout{10000};

// TLS for a client: off by default. When on, the server's certificate must chain to a trusted
// authority (the system's, or those in `ca_file`) and name the host the client connects to.
// TLS 1.2 or later.
struct ClientTls {
  bool enabled = false;
  std::string ca_file;  // PEM; empty: the system's default trust store
};

struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
};

// An HTTP/1.1 client for one host. It keeps one keep-alive connection and opens a new one when the
// server closed the previous one (or asked to close it).
//
// A request that fails on a reused connection with "closed by peer" is sent once more on a fresh
// connection: the server most likely closed an idle connection before reading the request. This
// is the usual client behaviour, and it means a request can in rare cases reach the server twice.
class HttpClient {
 public:
  // `timeout` bounds each request: connecting, writing it and reading the reply.
  HttpClient(std::string host, std::uint16_t port,
             std::chrono::milliseconds timeout = kDefaultClientTimeout, ClientTls tls = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // Sends one request and waits for its reply. `target` is the path with its query. When `body` is
  // not empty and `headers` has no Content-Type, "application/json" is sent. Throws
  // std::runtime_error when the server cannot be reached or does not answer within the timeout.
  HttpReply Request(const std::string& method, const std::string& target,
                    const std::string& body = {},
                    const std::map<std::string, std::string>& headers = {});

  // Drops the connection; the next request opens a new one.
  void Disconnect();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A WebSocket client. After Connect it reads continuously whenever one of its calls runs, so
// messages and control frames (ping, close) are handled while the caller sends; messages wait in
// an inbox until Receive takes them. The inbox has no bound: a caller that sends much and never
// receives keeps every answer in memory.
class WsClient {
 public:
  // `timeout` bounds Connect, each Send and Close (not Receive, which takes its own). With `tls`
  // enabled every Connect speaks wss.
  explicit WsClient(std::chrono::milliseconds timeout = kDefaultClientTimeout, ClientTls tls = {});
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;
  WsClient(WsClient&&) noexcept;
  WsClient& operator=(WsClient&&) noexcept;

  // Opens the TCP connection and performs the upgrade to `path` (e.g. "/v1/terminal"). Throws
  // std::runtime_error on failure. Precondition: not open. A closed client may connect again;
  // messages still in the inbox from its previous connection are then dropped.
  void Connect(const std::string& host, std::uint16_t port, const std::string& path);

  // Sends a text or binary message and waits until it is written. Throws std::runtime_error when
  // the connection is closed or the write fails or times out (the connection is then closed).
  void Send(std::string_view text);
  void SendBinary(std::string_view bytes);

  // The next message received, waiting at most `timeout`. Returns nullopt on timeout, and also
  // when the connection has closed and every message received before the close has been taken:
  // tell the two apart with IsOpen(). Never throws for a closed connection.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout);

  // Starts the closing handshake (code 1000) and waits for it to finish, at most the timeout.
  // Does nothing when already closed. Messages still in the inbox stay readable.
  void Close();

  // The close code the server sent, once it sent one; nullopt while open, or when the connection
  // ended without a close frame.
  std::optional<std::uint16_t> CloseCode() const;

  // True from a successful Connect until the connection closes for any reason.
  bool IsOpen() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sb::net
