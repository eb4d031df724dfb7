// One HTTP/1.1 connection: reads a request, hands it to the Handler, writes the answer, and
// repeats while the connection is kept alive. Requests on one connection are served one at a
// time, so pipelined requests are answered in the order they came. On a TLS listener the session
// opens with the TLS handshake and ends with its shutdown.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cctype>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>

#include "net/session.h"

namespace sb::net {

namespace {

namespace websocket = beast::websocket;
using Parser = http::request_parser<http::string_body>;
using WireResponse = http::response<http::string_body>;

// After an error answer the client may still be sending the body we refused. Closing with unread
// data would reset the connection, and the client could lose the answer; so read and drop for a
// while first.
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerMaxBytes = std::size_t{4} * 1024 * 1024;
constexpr std::size_t kLingerChunk = std::size_t{16} * 1024;
// For the TLS handshake, and for its closing exchange (close_notify) at the end.
constexpr std::chrono::seconds kTlsHandshakeTimeout{10};
constexpr std::chrono::seconds kTlsShutdownTimeout{2};

std::string_view View(beast::string_view s) {
  return {s.data(), s.size()};
}

std::string Lower(beast::string_view s) {
  std::string out(s.data(), s.size());
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Upper(beast::string_view s) {
  std::string out(s.data(), s.size());
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string_view PathOf(beast::string_view target) {
  return View(target).substr(0, View(target).find('?'));
}

HttpRequest ToHttpRequest(WireRequest wire, const std::string& remote) {
  HttpRequest request;
  request.method = Upper(wire.method_string());
  request.path = std::string(PathOf(wire.target()));
  auto target = View(wire.target());
  if (auto mark = target.find('?'); mark != std::string_view::npos) {
    request.query = std::string(target.substr(mark + 1));
  }

  // A repeated header folds into one comma-separated value, as HTTP allows.
  for (const auto& field : wire) {
    auto [it, inserted] = request.headers.emplace(Lower(field.name_string()), "");
    if (!inserted) {
      it->second += ", ";
    }
    it->second += View(field.value());
  }

  request.body = std::move(wire.body());
  request.remote = remote;
  return request;
}

bool ForbidsBody(unsigned status) {
  return status < 200 || status == 204 || status == 304;
}

WireResponse ToWire(HttpResponse response, unsigned version, bool keep_alive, bool head) {
  WireResponse wire;
  wire.version(version);
  auto status = response.status >= 100 && response.status <= 599 ? response.status : 500;
  wire.result(static_cast<unsigned>(status));
  for (const auto& [name, value] : response.headers) {
    wire.set(name, value);
  }
  if (!response.content_type.empty()) {
    wire.set(http::field::content_type, response.content_type);
  }
  wire.set(http::field::server, kServerName);
  wire.keep_alive(keep_alive);

  if (ForbidsBody(static_cast<unsigned>(status))) {
    response.body.clear();
  }
  // A HEAD answer tells the length of the body it does not carry.
  if (head) {
    wire.content_length(response.body.size());
  } else {
    wire.body() = std::move(response.body);
    wire.prepare_payload();
  }
  return wire;
}

bool IsParseError(const boost::system::error_code& ec) {
  static const auto& category = http::make_error_code(http::error::bad_target).category();
  return ec.category() == category && ec != http::error::end_of_stream &&
         ec != http::error::partial_message;
}

bool ExpectsContinue(const WireRequest& header) {
  return beast::iequals(header[http::field::expect], "100-continue");
}

std::string Why(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream) return "closed by the peer";
  if (ec == beast::error::timeout) return "idle timeout";
  return ec.message();
}

// Whether a failed TLS handshake saw plain HTTP instead of a ClientHello.
bool IsPlainHttp(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
}

// Where a Respond lands. Not a template, so that ReplySlot serves both kinds of session.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // Dropped unless it answers the request in hand.
  virtual void Deliver(std::uint64_t sequence, HttpResponse response) = 0;
};

Transport MakeStream(ServerCore& /*core*/, tcp::socket socket, Transport* /*tag*/) {
  return Transport(std::move(socket));
}

TlsTransport MakeStream(ServerCore& core, tcp::socket socket, TlsTransport* /*tag*/) {
  return TlsTransport(Transport(std::move(socket)), *core.tls);
}

template <typename Stream>
class HttpSession final : public Session,
                          public ResponseSink,
                          public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(std::shared_ptr<ServerCore> core, tcp::socket socket, std::uint64_t id,
              std::string remote, Admission admission)
      : core_(std::move(core)),
        stream_(MakeStream(*core_, std::move(socket), static_cast<Stream*>(nullptr))),
        id_(id),
        remote_(std::move(remote)),
        admission_(std::move(admission)),
        answered_(stream_.get_executor()) {}

  asio::awaitable<void> Run(std::shared_ptr<HttpSession> self);
  void GoAway() override;
  void Abort() override;
  void Deliver(std::uint64_t sequence, HttpResponse response) override;

 private:
  enum class Next { kRead, kClose, kLinger, kUpgraded };

  asio::awaitable<bool> Handshake();
  asio::awaitable<void> RefusePlainHttp();
  asio::awaitable<void> ShutdownTls();
  asio::awaitable<Next> ServeOne();
  asio::awaitable<Next> Refuse(const WireRequest& request);
  asio::awaitable<boost::system::error_code> Read(Parser& parser, bool header_only);
  asio::awaitable<bool> SendContinue();
  asio::awaitable<Next> OnReadError(const boost::system::error_code& ec);
  asio::awaitable<Next> Answer(WireRequest request);
  asio::awaitable<std::optional<HttpResponse>> AskHandler(HttpRequest request);
  asio::awaitable<Next> Upgrade(WireRequest request);
  asio::awaitable<bool> Reply(HttpResponse response, unsigned version, bool keep_alive,
                              bool head = false);
  asio::awaitable<void> LingeringClose();
  Respond MakeRespond();
  void Finish();

  Transport& Tcp() { return beast::get_lowest_layer(stream_); }

  std::shared_ptr<ServerCore> core_;
  Stream stream_;
  beast::flat_buffer buffer_;
  const std::uint64_t id_;
  const std::string remote_;
  Admission admission_;  // empty: over the per-address bound, the first request gets 429
  // Waits, never expiring, while the handler works; a Respond cancels it to wake the session.
  asio::steady_timer answered_;
  std::uint64_t sequence_ = 0;  // of the request in hand
  std::optional<HttpResponse> response_;
  bool reading_ = false;  // a read is pending that GoAway() may cut short
  bool closing_ = false;
  bool upgraded_ = false;
  bool tls_ready_ = false;  // the TLS handshake completed
};

// Shared by the copies of one Respond. It answers at most once; and when the handler drops the
// last copy without answering, it answers 503 so that the connection does not hang.
class ReplySlot {
 public:
  ReplySlot(std::weak_ptr<ResponseSink> session, std::uint64_t connection, std::uint64_t sequence)
      : session_(std::move(session)), connection_(connection), sequence_(sequence) {}
  ReplySlot(const ReplySlot&) = delete;
  ReplySlot& operator=(const ReplySlot&) = delete;

  ~ReplySlot() {
    if (!answered_) {
      NetLogger().warn("[conn {}] the handler dropped a request unanswered; answering 503",
                       connection_);
      Answer(ErrorResponse(503, "unavailable", "the request was not answered"));
    }
  }

  void Answer(HttpResponse response) {
    if (answered_) return;
    answered_ = true;
    // A weak_ptr: a pending answer must not keep a closed connection alive.
    if (auto session = session_.lock()) {
      session->Deliver(sequence_, std::move(response));
    }
  }

 private:
  std::weak_ptr<ResponseSink> session_;
  std::uint64_t connection_;
  std::uint64_t sequence_;
  bool answered_ = false;
};

template <typename Stream>
asio::awaitable<void> HttpSession<Stream>::Run([[maybe_unused]] std::shared_ptr<HttpSession> self) {
  // `self` lives in this frame, so the session outlives every suspension below and in the
  // member coroutines it awaits.
  try {
    auto next = co_await Handshake() ? Next::kRead : Next::kClose;
    while (next == Next::kRead && !closing_) {
      next = co_await ServeOne();
    }
    if (next == Next::kLinger) {
      co_await LingeringClose();
    }
    if (next != Next::kUpgraded) {
      co_await ShutdownTls();
    }
  } catch (const std::exception& e) {
    NetLogger().error("[conn {}] failed: {}", id_, e.what());
  }
  Finish();
}

template <typename Stream>
asio::awaitable<bool> HttpSession<Stream>::Handshake() {
  if constexpr (!kIsTls<Stream>) {
    co_return true;
  } else {
    reading_ = true;
    Tcp().expires_after(kTlsHandshakeTimeout);
    // Run's `self` keeps the stream alive.
    auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, kNoThrow);
    reading_ = false;
    tls_ready_ = !ec;
    if (!ec) co_return true;

    core_->stats.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
    NetLogger().debug("[conn {}] TLS handshake failed: {}", id_, ec.message());
    if (IsPlainHttp(ec)) co_await RefusePlainHttp();
    co_return false;
  }
}

// A client that spoke plain HTTP to the TLS port gets a plain answer saying so, rather than a
// connection reset it would have to guess about.
template <typename Stream>
asio::awaitable<void> HttpSession<Stream>::RefusePlainHttp() {
  static const std::string kAnswer = [] {
    const std::string body = R"({"error":{"code":"bad_request","message":)"
                             R"("this port speaks HTTPS; plain HTTP is refused"}})";
    return "HTTP/1.1 400 Bad Request\r\nServer: " + std::string(kServerName) +
           "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  Tcp().expires_after(kTlsShutdownTimeout);
  co_await asio::async_write(Tcp(), asio::buffer(kAnswer), kNoThrow);
}

// Sends close_notify, so that the peer can tell the end of the data from a truncation. Bounded:
// a peer that does not answer is not waited for.
template <typename Stream>
asio::awaitable<void> HttpSession<Stream>::ShutdownTls() {
  if constexpr (kIsTls<Stream>) {
    if (!tls_ready_ || !Tcp().socket().is_open()) co_return;
    Tcp().expires_after(kTlsShutdownTimeout);
    co_await stream_.async_shutdown(kNoThrow);
  }
}

template <typename Stream>
asio::awaitable<typename HttpSession<Stream>::Next> HttpSession<Stream>::ServeOne() {
  Parser parser;
  parser.body_limit(core_->options.max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
      core_->options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));

  auto ec = co_await Read(parser, true);
  if (ec) co_return co_await OnReadError(ec);
  if (!admission_.admitted()) co_return co_await Refuse(parser.get());
  if (ExpectsContinue(parser.get()) && !parser.is_done() && !co_await SendContinue()) {
    co_return Next::kClose;
  }
  if (!parser.is_done()) {
    ec = co_await Read(parser, false);
    if (ec) co_return co_await OnReadError(ec);
  }

  auto request = parser.release();
  if (websocket::is_upgrade(request)) co_return co_await Upgrade(std::move(request));
  co_return co_await Answer(std::move(request));
}

// Over the per-address bound: one answer, then the connection closes (lingering, since the
// request's body may still be on its way).
template <typename Stream>
asio::awaitable<typename HttpSession<Stream>::Next> HttpSession<Stream>::Refuse(
    const WireRequest& request) {
  NetLogger().debug("[conn {}] refused: too many connections from {}", id_, remote_);
  co_await Reply(ErrorResponse(429, "rate_limited", "too many connections from this address"),
                 request.version(), false);
  co_return Next::kLinger;
}

template <typename Stream>
asio::awaitable<boost::system::error_code> HttpSession<Stream>::Read(Parser& parser,
                                                                     bool header_only) {
  reading_ = true;
  Tcp().expires_after(core_->options.http_idle_timeout);
  // Run's `self` keeps the stream and buffer alive; the parser lives in the caller's frame.
  boost::system::error_code ec;
  if (header_only) {
    std::tie(ec, std::ignore) =
        co_await http::async_read_header(stream_, buffer_, parser, kNoThrow);
  } else {
    std::tie(ec, std::ignore) = co_await http::async_read(stream_, buffer_, parser, kNoThrow);
  }
  reading_ = false;
  co_return ec;
}

template <typename Stream>
asio::awaitable<bool> HttpSession<Stream>::SendContinue() {
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  Tcp().expires_after(core_->options.http_idle_timeout);
  auto [ec, bytes] = co_await asio::async_write(stream_, asio::buffer(kContinue), kNoThrow);
  co_return !ec;
}

template <typename Stream>
asio::awaitable<typename HttpSession<Stream>::Next> HttpSession<Stream>::OnReadError(
    const boost::system::error_code& ec) {
  auto& log = NetLogger();
  if (ec == http::error::body_limit) {
    log.debug("[conn {}] request body over {} bytes", id_, core_->options.max_body_bytes);
    co_await Reply(ErrorResponse(413, "too_large", "the request body is too large"), 11, false);
    co_return Next::kLinger;
  }
  if (ec == http::error::header_limit) {
    log.debug("[conn {}] request header over {} bytes", id_, core_->options.max_header_bytes);
    co_await Reply(ErrorResponse(431, "too_large", "the request header is too large"), 11, false);
    co_return Next::kLinger;
  }
  if (IsParseError(ec)) {
    log.debug("[conn {}] malformed request: {}", id_, ec.message());
    co_await Reply(ErrorResponse(400, "bad_request", "malformed HTTP request"), 11, false);
    co_return Next::kLinger;
  }

  log.debug("[conn {}] {}", id_, Why(ec));
  co_return Next::kClose;
}

template <typename Stream>
asio::awaitable<typename HttpSession<Stream>::Next> HttpSession<Stream>::Answer(
    WireRequest request) {
  const auto version = request.version();
  const bool keep_alive = request.keep_alive();
  const bool head = request.method() == http::verb::head;

  auto response = co_await AskHandler(ToHttpRequest(std::move(request), remote_));
  if (!response) co_return Next::kClose;
  // A connection told to go away answers what it holds, then closes.
  const bool keep = keep_alive && !closing_;
  if (!co_await Reply(std::move(*response), version, keep, head)) co_return Next::kClose;
  // A large request leaves a large buffer behind; an idle connection should not keep it.
  buffer_.shrink_to_fit();
  co_return keep ? Next::kRead : Next::kClose;
}

template <typename Stream>
asio::awaitable<std::optional<HttpResponse>> HttpSession<Stream>::AskHandler(HttpRequest request) {
  ++sequence_;
  response_.reset();
  auto* handler = core_->handler;
  if (handler == nullptr) co_return std::nullopt;

  handler->OnHttp(std::move(request), MakeRespond());
  if (!response_ && !closing_) {
    answered_.expires_at(asio::steady_timer::time_point::max());
    // Run's `self` keeps the session alive while the handler works. The Respond holds only a
    // weak_ptr; calling it cancels this wait, and so does Abort().
    co_await answered_.async_wait(kNoThrow);
  }
  co_return std::exchange(response_, std::nullopt);
}

template <typename Stream>
asio::awaitable<typename HttpSession<Stream>::Next> HttpSession<Stream>::Upgrade(
    WireRequest request) {
  if (PathOf(request.target()) != core_->options.websocket_path) {
    NetLogger().debug("[conn {}] no WebSocket at {}", id_, View(request.target()));
    const bool keep = request.keep_alive() && !closing_;
    const bool sent =
        co_await Reply(ErrorResponse(404, "not_found", "no WebSocket endpoint at this path"),
                       request.version(), keep);
    if (!sent || !keep) co_return Next::kClose;
    co_return Next::kRead;
  }
  if (closing_ || core_->handler == nullptr) co_return Next::kClose;

  // The WebSocket session takes the socket and the connection id over.
  upgraded_ = true;
  core_->Unregister(id_);
  StartWsSession(core_, std::move(stream_), std::move(request), id_, remote_,
                 std::move(admission_));
  co_return Next::kUpgraded;
}

template <typename Stream>
asio::awaitable<bool> HttpSession<Stream>::Reply(HttpResponse response, unsigned version,
                                                 bool keep_alive, bool head) {
  auto wire = ToWire(std::move(response), version, keep_alive, head);
  Tcp().expires_after(core_->options.http_idle_timeout);
  // `wire` lives in this frame until the write completes; Run's `self` keeps the stream.
  auto [ec, bytes] = co_await http::async_write(stream_, wire, kNoThrow);
  if (ec) {
    NetLogger().debug("[conn {}] write failed: {}", id_, ec.message());
  }
  co_return !ec;
}

template <typename Stream>
asio::awaitable<void> HttpSession<Stream>::LingeringClose() {
  boost::system::error_code ignored;
  Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
  Tcp().expires_after(kLingerTime);

  std::array<char, kLingerChunk> sink;
  std::size_t drained = 0;
  while (drained < kLingerMaxBytes && !closing_) {
    reading_ = true;
    // `sink` is in this frame, the stream kept by Run's `self`.
    auto [ec, bytes] = co_await stream_.async_read_some(asio::buffer(sink), kNoThrow);
    reading_ = false;
    if (ec) break;
    drained += bytes;
  }
}

template <typename Stream>
Respond HttpSession<Stream>::MakeRespond() {
  auto slot = std::make_shared<ReplySlot>(this->weak_from_this(), id_, sequence_);
  return [slot](HttpResponse response) { slot->Answer(std::move(response)); };
}

template <typename Stream>
void HttpSession<Stream>::Deliver(std::uint64_t sequence, HttpResponse response) {
  if (sequence != sequence_ || response_) return;
  response_ = std::move(response);
  answered_.cancel();
}

template <typename Stream>
void HttpSession<Stream>::GoAway() {
  closing_ = true;
  // Between requests: stop waiting for the next one. A request in hand is answered first.
  if (reading_) {
    Tcp().cancel();
  }
}

template <typename Stream>
void HttpSession<Stream>::Abort() {
  closing_ = true;
  answered_.cancel();
  Tcp().close();
}

template <typename Stream>
void HttpSession<Stream>::Finish() {
  if (upgraded_) return;
  boost::system::error_code ignored;
  Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
  Tcp().close();
  admission_.Release();
  core_->Unregister(id_);
  NetLogger().debug("[conn {}] closed", id_);
}

template <typename Stream>
void Spawn(const std::shared_ptr<ServerCore>& core, tcp::socket socket, std::uint64_t id,
           std::string remote, Admission admission) {
  auto session = std::make_shared<HttpSession<Stream>>(core, std::move(socket), id,
                                                       std::move(remote), std::move(admission));
  core->Register(id, session);
  // The coroutine's `self` parameter owns the session until the connection is done.
  asio::co_spawn(core->io, session->Run(session), LogUnexpected{});
}

}  // namespace

void StartHttpSession(const std::shared_ptr<ServerCore>& core, tcp::socket socket, std::uint64_t id,
                      std::string remote, Admission admission) {
  if (core->tls) {
    Spawn<TlsTransport>(core, std::move(socket), id, std::move(remote), std::move(admission));
  } else {
    Spawn<Transport>(core, std::move(socket), id, std::move(remote), std::move(admission));
  }
}

}  // namespace sb::net
