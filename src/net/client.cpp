#include "net/client.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cctype>
#include <deque>
#include <stdexcept>
#include <utility>

namespace sb::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

constexpr std::string_view kUserAgent = "switchboard-client";
// Replies and messages larger than this are refused; far above anything the exchange sends.
constexpr std::uint64_t kMaxInboundBytes = 256ull * 1024 * 1024;

// Runs `io` until `done()` holds or `deadline` passes; returns whether `done()` holds. Handlers
// that are ready run even when the deadline has already passed, so a zero timeout still polls.
template <typename Done>
bool RunUntil(asio::io_context& io, Clock::time_point deadline, Done done) {
  while (!done()) {
    if (io.stopped()) io.restart();
    io.poll();
    if (done()) return true;
    if (Clock::now() >= deadline || io.stopped()) {
      // Out of time, or no outstanding work could make `done()` true.
      return false;
    }
    io.run_one_until(deadline);
  }
  return true;
}

// Runs every outstanding handler to completion; the caller has closed the socket, so they finish.
void Drain(asio::io_context& io) {
  io.restart();
  io.run();
}

// Starts an asynchronous operation with `start(handler)` and runs it until it completes or
// `deadline` passes. On timeout `abort()` must make the operation finish (by closing its socket);
// the result is then `timed_out`.
template <typename Start, typename Abort>
ErrorCode RunOp(asio::io_context& io, Clock::time_point deadline, Start start, Abort abort) {
  ErrorCode result;
  bool done = false;
  start([&result, &done](ErrorCode ec, auto&&...) {
    result = ec;
    done = true;
  });
  if (RunUntil(io, deadline, [&done] { return done; })) return result;
  abort();
  Drain(io);
  return asio::error::timed_out;
}

// Resolves `host` and connects `socket` to it.
ErrorCode ConnectSocket(asio::io_context& io, tcp::socket& socket, const std::string& host,
                        std::uint16_t port, Clock::time_point deadline) {
  tcp::resolver resolver(io);
  tcp::resolver::results_type endpoints;
  ErrorCode ec = RunOp(
      io, deadline,
      [&](auto handler) {
        resolver.async_resolve(host, std::to_string(port),
                               [&endpoints, handler](ErrorCode e, tcp::resolver::results_type r) {
                                 endpoints = std::move(r);
                                 handler(e);
                               });
      },
      [&resolver] { resolver.cancel(); });
  if (ec) return ec;

  return RunOp(
      io, deadline, [&](auto handler) { asio::async_connect(socket, endpoints, handler); },
      [&socket] {
        ErrorCode ignored;
        socket.close(ignored);
      });
}

std::string Describe(const std::string& what, const ErrorCode& ec) {
  return what + ": " + ec.message();
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Errors that mean the server had closed a kept-alive connection before our request reached it.
bool IsClosedByPeer(const ErrorCode& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::ssl::error::stream_truncated;
}

// A client context: TLS 1.2 or later, the peer's certificate verified against `tls.ca_file` or
// the system's trust store. Throws std::runtime_error when the CA file cannot be read.
asio::ssl::context MakeClientContext(const ClientTls& tls) {
  asio::ssl::context context(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  context.set_verify_mode(asio::ssl::verify_peer);
  ErrorCode ec;
  if (tls.ca_file.empty()) {
    context.set_default_verify_paths(ec);
  } else {
    context.load_verify_file(tls.ca_file, ec);
  }
  if (ec) {
    throw std::runtime_error(Describe("cannot load the trusted certificates", ec));
  }
  return context;
}

// Names the host for SNI and requires the certificate to be for it, then runs the handshake.
template <typename TlsStream>
ErrorCode TlsHandshake(asio::io_context& io, TlsStream& stream, const std::string& host,
                       Clock::time_point deadline) {
  if (SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1) {
    return asio::error::invalid_argument;
  }
  stream.set_verify_callback(asio::ssl::host_name_verification(host));
  return RunOp(
      io, deadline,
      [&](auto handler) { stream.async_handshake(asio::ssl::stream_base::client, handler); },
      [&stream] {
        ErrorCode ignored;
        beast::get_lowest_layer(stream).close(ignored);
      });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HttpClient

struct HttpClient::Impl {
  std::string host;
  std::uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context io;
  std::optional<asio::ssl::context> tls_context;  // set when TLS is on
  tcp::socket socket{io};
  // Over `socket` while a TLS connection is open.
  std::optional<asio::ssl::stream<tcp::socket&>> tls;
  beast::flat_buffer buffer;

  // Calls `fn` with the stream requests travel on: the TLS stream or the bare socket.
  template <typename Fn>
  void WithStream(Fn fn) {
    if (tls) {
      fn(*tls);
    } else {
      fn(socket);
    }
  }
  void Connect();
  void CloseSocket();
  http::request<http::string_body> BuildRequest(const std::string& method,
                                                const std::string& target, const std::string& body,
                                                const std::map<std::string, std::string>& headers);
  ErrorCode Exchange(http::request<http::string_body>& request, HttpReply& reply);
};

void HttpClient::Impl::Connect() {
  const auto deadline = Clock::now() + timeout;
  ErrorCode ec = ConnectSocket(io, socket, host, port, deadline);
  if (!ec && tls_context) {
    tls.emplace(socket, *tls_context);
    ec = TlsHandshake(io, *tls, host, deadline);
  }
  if (ec) {
    CloseSocket();
    throw std::runtime_error(
        Describe("cannot connect to " + host + ":" + std::to_string(port), ec));
  }
}

void HttpClient::Impl::CloseSocket() {
  ErrorCode ignored;
  socket.close(ignored);
  tls.reset();
  buffer.consume(buffer.size());
}

http::request<http::string_body> HttpClient::Impl::BuildRequest(
    const std::string& method, const std::string& target, const std::string& body,
    const std::map<std::string, std::string>& headers) {
  http::request<http::string_body> request;
  request.method_string(method);
  request.target(target);
  request.version(11);
  request.set(http::field::host, host + ":" + std::to_string(port));
  request.set(http::field::user_agent, kUserAgent);
  for (const auto& [name, value] : headers) {
    request.set(name, value);
  }
  if (!body.empty() && request.find(http::field::content_type) == request.end()) {
    request.set(http::field::content_type, "application/json");
  }
  request.body() = body;
  request.prepare_payload();
  return request;
}

ErrorCode HttpClient::Impl::Exchange(http::request<http::string_body>& request, HttpReply& reply) {
  const auto deadline = Clock::now() + timeout;
  auto abort = [this] { CloseSocket(); };

  ErrorCode write_ec = RunOp(
      io, deadline,
      [&](auto handler) {
        WithStream([&](auto& stream) { http::async_write(stream, request, handler); });
      },
      abort);
  if (write_ec == asio::error::timed_out) return write_ec;

  // Read even after a failed write: a server may answer (413, say) and close before it has read
  // all of a large body, and that answer is what the caller wants to see.
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxInboundBytes);
  ErrorCode read_ec = RunOp(
      io, deadline,
      [&](auto handler) {
        WithStream([&](auto& stream) { http::async_read(stream, buffer, parser, handler); });
      },
      abort);
  if (read_ec) return write_ec ? write_ec : read_ec;

  auto response = parser.release();
  reply.status = static_cast<int>(response.result_int());
  reply.body = std::move(response.body());
  reply.headers.clear();
  for (const auto& field : response.base()) {
    auto [it, inserted] = reply.headers.emplace(Lower(field.name_string()), field.value());
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  if (!response.keep_alive()) CloseSocket();
  return {};
}

HttpClient::HttpClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout,
                       ClientTls tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
  if (tls.enabled) impl_->tls_context.emplace(MakeClientContext(tls));
}

HttpClient::~HttpClient() {
  if (impl_) impl_->CloseSocket();
}

HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpReply HttpClient::Request(const std::string& method, const std::string& target,
                              const std::string& body,
                              const std::map<std::string, std::string>& headers) {
  auto request = impl_->BuildRequest(method, target, body, headers);
  const bool reused = impl_->socket.is_open();
  if (!reused) impl_->Connect();

  HttpReply reply;
  ErrorCode ec = impl_->Exchange(request, reply);
  if (ec && reused && IsClosedByPeer(ec)) {
    impl_->CloseSocket();
    impl_->Connect();
    ec = impl_->Exchange(request, reply);
  }
  if (ec) {
    impl_->CloseSocket();
    throw std::runtime_error(Describe("HTTP " + method + " " + target, ec));
  }
  return reply;
}

void HttpClient::Disconnect() {
  impl_->CloseSocket();
}

// ---------------------------------------------------------------------------------------------
// WsClient

struct WsClient::Impl {
  std::chrono::milliseconds timeout;
  asio::io_context io;
  std::optional<asio::ssl::context> tls_context;  // set when TLS is on
  // Recreated by each Connect, since a Beast stream cannot be reopened after it closed. One of
  // the two is set once Connect has run: `wss` when TLS is on.
  std::optional<websocket::stream<tcp::socket>> ws;
  std::optional<websocket::stream<asio::ssl::stream<tcp::socket>>> wss;
  beast::flat_buffer read_buffer;
  std::deque<std::string> inbox;
  bool open = false;
  bool reading = false;
  std::optional<std::uint16_t> close_code;

  ~Impl() { Abort(); }

  // Calls `fn` with the WebSocket stream in use. Precondition: Reset() has run.
  template <typename Fn>
  decltype(auto) With(Fn fn) {
    if (wss) return fn(*wss);
    return fn(*ws);
  }
  tcp::socket& Socket() {
    return With([](auto& stream) -> tcp::socket& { return beast::get_lowest_layer(stream); });
  }

  // Forgets the previous connection and prepares a fresh stream.
  void Reset();
  // Connects, upgrades and starts the read loop; throws on failure.
  void Open(const std::string& host, std::uint16_t port, const std::string& path);
  void StartRead();
  void OnRead(const ErrorCode& ec);
  void Write(std::string_view data, bool text);
  // Drops the connection without a closing handshake and completes every pending operation.
  void Abort();
};

void WsClient::Impl::Reset() {
  Abort();
  inbox.clear();
  read_buffer.consume(read_buffer.size());
  close_code.reset();
  ws.reset();
  wss.reset();
  if (tls_context) {
    wss.emplace(io, *tls_context);
  } else {
    ws.emplace(io);
  }

  With([](auto& stream) {
    // One message per frame: the exchange's size limit is per frame, and tests rely on it.
    stream.auto_fragment(false);
    stream.read_message_max(kMaxInboundBytes);
    stream.set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
      request.set(http::field::user_agent, kUserAgent);
    }));
  });
}

void WsClient::Impl::Open(const std::string& host, std::uint16_t port, const std::string& path) {
  const auto deadline = Clock::now() + timeout;
  const std::string where = host + ":" + std::to_string(port);

  ErrorCode ec = ConnectSocket(io, Socket(), host, port, deadline);
  if (!ec && wss) ec = TlsHandshake(io, wss->next_layer(), host, deadline);
  if (ec) {
    Abort();
    throw std::runtime_error(Describe("cannot connect to " + where, ec));
  }

  ec = RunOp(
      io, deadline,
      [&](auto handler) {
        With([&](auto& stream) { stream.async_handshake(where, path, handler); });
      },
      [this] { Abort(); });
  if (ec) {
    Abort();
    throw std::runtime_error(Describe("WebSocket upgrade at " + where + path, ec));
  }

  open = true;
  StartRead();
}

// The read loop: one read is always pending while open, so control frames are answered and
// messages collected whenever the io_context runs. The handler captures `this`; it is safe because
// ~Impl aborts and drains the io_context before any member goes away.
void WsClient::Impl::StartRead() {
  reading = true;
  With([this](auto& stream) {
    stream.async_read(read_buffer, [this](const ErrorCode& ec, std::size_t) { OnRead(ec); });
  });
}

void WsClient::Impl::OnRead(const ErrorCode& ec) {
  reading = false;
  if (ec) {
    // Code "none" (0) means the close frame carried no code.
    const auto reason = With([](auto& stream) { return stream.reason(); });
    if (ec == websocket::error::closed && reason.code != websocket::close_code::none) {
      close_code = static_cast<std::uint16_t>(reason.code);
    }
    open = false;
    ErrorCode ignored;
    Socket().close(ignored);
    return;
  }

  inbox.push_back(beast::buffers_to_string(read_buffer.data()));
  read_buffer.consume(read_buffer.size());
  StartRead();
}

void WsClient::Impl::Write(std::string_view data, bool text) {
  if (!open) throw std::runtime_error("WebSocket send: the connection is closed");

  With([text](auto& stream) { stream.text(text); });
  ErrorCode ec = RunOp(
      io, Clock::now() + timeout,
      [&](auto handler) {
        With([&](auto& stream) {
          stream.async_write(asio::buffer(data.data(), data.size()), handler);
        });
      },
      [this] { Abort(); });
  if (ec) {
    Abort();
    throw std::runtime_error(Describe("WebSocket send", ec));
  }
}

void WsClient::Impl::Abort() {
  if (ws || wss) {
    ErrorCode ignored;
    Socket().close(ignored);
  }
  Drain(io);
  open = false;
}

WsClient::WsClient(std::chrono::milliseconds timeout, ClientTls tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->timeout = timeout;
  if (tls.enabled) impl_->tls_context.emplace(MakeClientContext(tls));
}

WsClient::~WsClient() = default;
WsClient::WsClient(WsClient&&) noexcept = default;
WsClient& WsClient::operator=(WsClient&&) noexcept = default;

void WsClient::Connect(const std::string& host, std::uint16_t port, const std::string& path) {
  if (impl_->open) throw std::runtime_error("WebSocket connect: already open");
  impl_->Reset();
  impl_->Open(host, port, path);
}

void WsClient::Send(std::string_view text) {
  impl_->Write(text, true);
}

void WsClient::SendBinary(std::string_view bytes) {
  impl_->Write(bytes, false);
}

std::optional<std::string> WsClient::Receive(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (s.inbox.empty() && s.open) {
    RunUntil(s.io, Clock::now() + timeout, [&s] { return !s.inbox.empty() || !s.open; });
  }
  if (s.inbox.empty()) return std::nullopt;
  std::string message = std::move(s.inbox.front());
  s.inbox.pop_front();
  return message;
}

void WsClient::Close() {
  Impl& s = *impl_;
  if (!s.open) return;
  const auto deadline = Clock::now() + s.timeout;

  // The pending read sees the server's answering close frame and ends the read loop; wait for it
  // so that the connection is fully closed when Close returns.
  ErrorCode ec = RunOp(
      s.io, deadline,
      [&](auto handler) {
        s.With([&](auto& stream) { stream.async_close(websocket::close_code::normal, handler); });
      },
      [&s] { s.Abort(); });
  if (ec || !RunUntil(s.io, deadline, [&s] { return !s.reading; })) s.Abort();
  s.open = false;
}

std::optional<std::uint16_t> WsClient::CloseCode() const {
  return impl_->close_code;
}

bool WsClient::IsOpen() const {
  return impl_->open;
}

}  // namespace sb::net
