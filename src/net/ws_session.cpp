// One WebSocket connection: answers the opening handshake, reads frames with ws::Reader for the
// Handler, and writes what the Handler queues, every message queued meanwhile in one write.
//
// Memory: most connections sit idle, so an idle one holds its socket, this object and one pending
// operation, and no buffer. On plain TCP the pending operation is a readiness wait; the bytes are
// then read into one scratch buffer that the loop thread shares among all connections. A TLS
// stream must own the buffer it decrypts into while its read is pending, so a TLS connection keeps
// a small one (next to the TLS engine's own buffers, which are far larger). Keep-alive pings and
// timeouts are driven by the server's sweep (Session::Tick), not by a timer per connection.
//
// Lifetime: every pending operation's handler holds a shared_ptr to the session, so the session
// lives until the last of them has completed; ServerCore::sessions holds only a weak_ptr.
//
// TODO(net): an idle TLS connection still costs ~78 KB, nearly all of it asio::ssl::stream's two
// 17 KB record buffers and the two of its BIO pair. Driving OpenSSL on the socket directly, with
// SSL_MODE_RELEASE_BUFFERS, would bring it near the plain connection's ~2 KB.
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <limits>
#include <utility>
#include <vector>

#include "net/session.h"
#include "net/ws_frame.h"

namespace sb::net {

namespace {

using Clock = std::chrono::steady_clock;

// For the opening and the closing handshake.
constexpr std::chrono::seconds kHandshakeTimeout{30};
// Messages up to this many times max_frame_bytes are read and dropped with the connection kept;
// beyond it the peer is not playing by the rules, and the connection is closed with 1009.
constexpr std::size_t kHardCapFactor = 16;
// What one read takes at most: the shared scratch buffer (plain TCP), a TLS connection's own.
constexpr std::size_t kScratchBytes = std::size_t{64} * 1024;
constexpr std::size_t kTlsReadBytes = std::size_t{2} * 1024;
// Reads of one connection in a row before the others get a turn.
constexpr int kReadsPerTurn = 16;
// RFC 6455 4.2.2: appended to the client's key before hashing it into Sec-WebSocket-Accept.
constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::size_t HardCap(std::size_t max_frame_bytes) {
  const auto most = std::numeric_limits<std::size_t>::max();
  return max_frame_bytes > most / kHardCapFactor ? most : max_frame_bytes * kHardCapFactor;
}

// The loop thread's scratch buffer for plain reads; filled and consumed within one handler.
char* Scratch() {
  thread_local const std::unique_ptr<char[]> scratch(new char[kScratchBytes]);
  return scratch.get();
}

// What a WebSocket runs on: the bare socket for plain TCP (the sweep keeps time, so Beast's
// timed stream is not needed), and the TLS stream as the HTTP session had it.
tcp::socket ToWire(Transport stream) {
  return stream.release_socket();
}

TlsTransport ToWire(TlsTransport stream) {
  beast::get_lowest_layer(stream).expires_never();
  return stream;
}

tcp::socket& SocketOf(tcp::socket& wire) {
  return wire;
}

tcp::socket& SocketOf(TlsTransport& wire) {
  return beast::get_lowest_layer(wire).socket();
}

std::string AcceptKey(std::string_view key) {
  const std::string input = std::string(key) + std::string(kAcceptGuid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_sha1(), nullptr);
  std::string encoded(4 * ((size + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                      digest.data(), static_cast<int>(size));
  encoded.resize(static_cast<std::size_t>(std::max(written, 0)));
  return encoded;
}

std::string_view View(beast::string_view s) {
  return {s.data(), s.size()};
}

std::string ErrorAnswer(std::string_view status, std::string_view extra_header,
                        std::string_view message) {
  const auto body = ErrorResponse(400, "bad_request", message).body;
  return "HTTP/1.1 " + std::string(status) + "\r\nServer: " + kServerName +
         "\r\nContent-Type: application/json\r\nConnection: close\r\n" + std::string(extra_header) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The answer to an upgrade request (HttpSession checked that it is one): 101 with the accept key;
// or 426 naming the one version spoken, or 400 without a usable key. `accepted` tells which.
std::string HandshakeAnswer(const WireRequest& upgrade, bool& accepted) {
  accepted = false;
  if (View(upgrade[http::field::sec_websocket_version]) != "13") {
    return ErrorAnswer("426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n",
                       "only WebSocket version 13 is spoken");
  }
  const auto key = View(upgrade[http::field::sec_websocket_key]);
  // The key is 16 random bytes in base64: 24 characters.
  if (key.empty() || key.size() > 24) {
    return ErrorAnswer("400 Bad Request", "", "missing or malformed Sec-WebSocket-Key");
  }
  accepted = true;
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         AcceptKey(key) + "\r\nServer: " + kServerName + "\r\n\r\n";
}

template <typename Wire>
class WsSession final : public Session,
                        public WsConnection,
                        public ws::ReaderSink,
                        public std::enable_shared_from_this<WsSession<Wire>> {
 public:
  WsSession(std::shared_ptr<ServerCore> core, Wire wire, std::uint64_t id, std::string remote,
            Admission admission)
      : core_(std::move(core)),
        wire_(std::move(wire)),
        id_(id),
        remote_(std::move(remote)),
        admission_(std::move(admission)),
        reader_(core_->options.max_frame_bytes, HardCap(core_->options.max_frame_bytes)) {}

  // Writes the answer to `upgrade`; once the 101 is out, the connection is open.
  void Start(const WireRequest& upgrade);

  // WsConnection
  std::uint64_t id() const override { return id_; }
  const std::string& remote() const override { return remote_; }
  void Send(std::string text) override;
  void Close(std::uint16_t code, std::string reason) override;
  std::size_t QueuedBytes() const override { return queued_bytes_; }
  bool IsOpen() const override { return open_ && !finished_ && !close_requested_; }

  // Session
  void GoAway() override;
  void Abort() override;
  void Tick(Clock::time_point now) override;

  // ws::ReaderSink
  void OnText(std::string_view text) override;
  void OnRefused(WsRefusal why) override;
  void OnPing(std::string_view payload) override;
  void OnPeerClose(std::uint16_t code, std::string_view reason) override;
  bool Reading() const override { return !finished_ && !peer_closed_ && !failed_; }

 private:
  static constexpr bool kTls = kIsTls<Wire>;

  // One frame waiting to be written, its header already encoded.
  struct Outgoing {
    ws::Opcode opcode;
    ws::FrameHeader header;
    std::string payload;
  };

  void OnHandshakeWritten(const boost::system::error_code& ec, bool accepted);
  void Open();
  void ReadMore();
  void OnReadable(boost::system::error_code ec);
  void OnRead(const boost::system::error_code& ec, char* data, std::size_t size);
  bool Consume(const boost::system::error_code& ec, char* data, std::size_t size);
  void Queue(ws::Opcode opcode, std::string payload);
  void QueueClose();
  void StartWriting();
  void OnWritten(const boost::system::error_code& ec);
  void Fail(std::uint16_t code);
  void DropQueue();
  void Finish(const boost::system::error_code& ec);
  std::string Why(const boost::system::error_code& ec) const;

  std::shared_ptr<ServerCore> core_;
  Wire wire_;
  const std::uint64_t id_;
  const std::string remote_;
  Admission admission_;
  ws::Reader reader_;
  std::unique_ptr<char[]> tls_buffer_;  // TLS only: where a pending read decrypts into
  std::string handshake_;               // the answer being written; empty once it is out

  // Neither allocates while empty, which is how an idle connection keeps them.
  std::vector<Outgoing> queue_;   // waiting to be written
  std::vector<Outgoing> batch_;   // being written while writing_
  std::size_t queued_bytes_ = 0;  // payload bytes of Send()s not yet written

  Clock::time_point started_ = Clock::now();
  Clock::time_point last_read_ = started_;
  Clock::time_point close_sent_at_{};
  std::uint16_t close_code_ = 0;
  std::string close_reason_;
  std::uint16_t peer_close_code_ = 0;
  bool open_ = false;  // from the 101 until Finish()
  bool writing_ = false;
  bool ping_sent_ = false;        // a keep-alive ping went out since the last read
  bool close_requested_ = false;  // by Close(), a failure, or the peer's close frame
  bool close_sent_ = false;       // our close frame is queued or written
  bool peer_closed_ = false;      // the peer's close frame was read
  bool failed_ = false;           // a protocol violation: close, then drain until the peer closes
  bool draining_ = false;         // after failed_ and our close frame: reading only to discard
  bool finished_ = false;
};

template <typename Wire>
void WsSession<Wire>::Start(const WireRequest& upgrade) {
  bool accepted = false;
  handshake_ = HandshakeAnswer(upgrade, accepted);
  // The handler's `self` keeps the session, and so handshake_, alive until the write completes.
  asio::async_write(
      wire_, asio::buffer(handshake_),
      [self = this->shared_from_this(), accepted](boost::system::error_code ec, std::size_t) {
        self->OnHandshakeWritten(ec, accepted);
      });
}

template <typename Wire>
void WsSession<Wire>::OnHandshakeWritten(const boost::system::error_code& ec, bool accepted) {
  std::string().swap(handshake_);
  if (finished_) return;
  if (ec || !accepted) {
    NetLogger().debug("[conn {}] WebSocket handshake refused or failed", id_);
    Finish(ec ? ec : asio::error::invalid_argument);
    return;
  }
  Open();
}

template <typename Wire>
void WsSession<Wire>::Open() {
  open_ = true;
  last_read_ = Clock::now();
  if constexpr (kTls) {
    tls_buffer_ = std::make_unique<char[]>(kTlsReadBytes);
  } else {
    // Reads happen only once the socket is readable, and must then not block.
    boost::system::error_code ignored;
    wire_.non_blocking(true, ignored);
  }

  NetLogger().debug("[conn {}] WebSocket open", id_);
  if (auto* handler = core_->handler) {
    handler->OnWsOpen(this->shared_from_this());
  }
  ReadMore();
}

template <typename Wire>
void WsSession<Wire>::ReadMore() {
  if (!Reading() && !draining_) return;
  // Each handler's `self` keeps the session (and tls_buffer_) alive while the operation waits.
  if constexpr (kTls) {
    wire_.async_read_some(
        asio::buffer(tls_buffer_.get(), kTlsReadBytes),
        [self = this->shared_from_this()](boost::system::error_code ec, std::size_t size) {
          self->OnRead(ec, self->tls_buffer_.get(), size);
        });
  } else {
    wire_.async_wait(
        tcp::socket::wait_read,
        [self = this->shared_from_this()](boost::system::error_code ec) { self->OnReadable(ec); });
  }
}

// Readiness is edge-triggered: a wait armed while unread bytes remain would not complete until
// more arrive. So the socket is read until a read comes back short (or would block) before the
// next wait; a connection with more than kReadsPerTurn full reads waiting yields to the others
// and resumes without a wait.
template <typename Wire>
void WsSession<Wire>::OnReadable(boost::system::error_code ec) {
  if constexpr (!kTls) {
    if (finished_) return;
    if (ec) {
      Finish(ec);
      return;
    }
    char* scratch = Scratch();
    for (int turn = 0; turn < kReadsPerTurn; ++turn) {
      const std::size_t size = wire_.read_some(asio::buffer(scratch, kScratchBytes), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        ReadMore();
        return;
      }
      if (!Consume(ec, scratch, size)) return;
      // A short read emptied the socket's queue: whatever arrives later raises a new edge.
      if (size < kScratchBytes) {
        ReadMore();
        return;
      }
    }
    asio::post(wire_.get_executor(), [self = this->shared_from_this()] { self->OnReadable({}); });
  }
}

template <typename Wire>
void WsSession<Wire>::OnRead(const boost::system::error_code& ec, char* data, std::size_t size) {
  if (Consume(ec, data, size)) ReadMore();
}

// Hands what was read to the reader; whether to go on reading.
template <typename Wire>
bool WsSession<Wire>::Consume(const boost::system::error_code& ec, char* data, std::size_t size) {
  if (finished_) return false;
  if (ec) {
    Finish(ec);
    return false;
  }
  if (draining_) return true;

  last_read_ = Clock::now();
  ping_sent_ = false;
  std::uint16_t failure = 0;
  try {
    failure = reader_.Feed(data, size, *this);
  } catch (const std::exception& e) {
    // A handler that throws is a bug; it costs this connection, not the loop.
    NetLogger().error("[conn {}] failed: {}", id_, e.what());
    Finish(asio::error::fault);
    return false;
  }
  if (failure != 0) {
    Fail(failure);
    return false;
  }
  return Reading();
}

template <typename Wire>
void WsSession<Wire>::OnText(std::string_view text) {
  auto* handler = core_->handler;
  // After Close() the handler has given up on this connection: what still arrives is dropped.
  if (handler == nullptr || !IsOpen()) return;
  handler->OnWsText(this->shared_from_this(), text);
}

template <typename Wire>
void WsSession<Wire>::OnRefused(WsRefusal why) {
  auto* handler = core_->handler;
  if (handler == nullptr || !IsOpen()) return;
  if (why == WsRefusal::kBinary) {
    NetLogger().debug("[conn {}] refused a binary message", id_);
  } else {
    NetLogger().debug("[conn {}] refused a message over {} bytes", id_,
                      core_->options.max_frame_bytes);
  }
  handler->OnWsRefused(this->shared_from_this(), why);
}

template <typename Wire>
void WsSession<Wire>::OnPing(std::string_view payload) {
  if (close_sent_) return;
  Queue(ws::Opcode::kPong, std::string(payload));
  StartWriting();
}

// The closing handshake begun by the peer: answer with its code (no code: an empty close frame)
// in place of whatever was still queued, which the peer no longer wants; then drop the
// connection. When the frame answers ours, the handshake is complete.
template <typename Wire>
void WsSession<Wire>::OnPeerClose(std::uint16_t code, std::string_view /*reason*/) {
  peer_closed_ = true;
  peer_close_code_ = code;
  if (close_sent_) {
    if (!writing_) Finish(asio::error::eof);
    return;
  }
  DropQueue();
  close_requested_ = true;
  close_code_ = code;
  close_reason_.clear();
  StartWriting();
}

template <typename Wire>
void WsSession<Wire>::Send(std::string text) {
  if (!IsOpen()) return;
  queued_bytes_ += text.size();
  Queue(ws::Opcode::kText, std::move(text));
  StartWriting();
}

template <typename Wire>
void WsSession<Wire>::Close(std::uint16_t code, std::string reason) {
  if (!IsOpen()) return;
  close_requested_ = true;
  close_code_ = code;
  close_reason_ = std::move(reason);
  NetLogger().debug("[conn {}] closing with {}", id_, code);
  StartWriting();
}

template <typename Wire>
void WsSession<Wire>::Queue(ws::Opcode opcode, std::string payload) {
  const auto header = ws::EncodeHeader(opcode, payload.size());
  queue_.push_back(Outgoing{opcode, header, std::move(payload)});
}

template <typename Wire>
void WsSession<Wire>::QueueClose() {
  // 1005 means the peer's close frame had no code: the answer has none either.
  std::string payload =
      close_code_ == 1005 ? std::string() : ws::EncodeClosePayload(close_code_, close_reason_);
  std::string().swap(close_reason_);
  Queue(ws::Opcode::kClose, std::move(payload));
  close_sent_ = true;
  close_sent_at_ = Clock::now();
}

// Writes everything queued in one gathered write: several frames cost one system call.
template <typename Wire>
void WsSession<Wire>::StartWriting() {
  if (writing_ || finished_ || !open_) return;
  if (queue_.empty() && close_requested_ && !close_sent_) QueueClose();
  if (queue_.empty()) return;

  writing_ = true;
  batch_.swap(queue_);
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(2 * batch_.size());
  for (const auto& frame : batch_) {
    buffers.emplace_back(frame.header.bytes.data(), frame.header.size);
    if (!frame.payload.empty()) buffers.emplace_back(asio::buffer(frame.payload));
  }
  // The handler's `self` keeps batch_, which the buffers point into, alive until it completes.
  asio::async_write(wire_, buffers,
                    [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                      self->OnWritten(ec);
                    });
}

template <typename Wire>
void WsSession<Wire>::OnWritten(const boost::system::error_code& ec) {
  writing_ = false;
  if (!finished_) {
    for (const auto& frame : batch_) {
      if (frame.opcode == ws::Opcode::kText) queued_bytes_ -= frame.payload.size();
    }
  }
  batch_.clear();
  if (finished_) return;
  if (ec) {
    NetLogger().debug("[conn {}] write failed: {}", id_, ec.message());
    Finish(ec);
    return;
  }
  // Our close frame is out: done when it answered the peer's. After a protocol violation, what
  // the peer still sends is read and dropped until it closes, since closing a socket with unread
  // data resets the connection, and the peer could lose the close frame.
  if (close_sent_ && queue_.empty() && peer_closed_) {
    Finish(asio::error::eof);
    return;
  }
  if (close_sent_ && queue_.empty() && failed_ && !draining_) {
    draining_ = true;
    boost::system::error_code ignored;
    SocketOf(wire_).shutdown(tcp::socket::shutdown_send, ignored);
    ReadMore();
    return;
  }
  if (queue_.empty()) {
    // Back to idle: hold no memory for the queue.
    std::vector<Outgoing>().swap(queue_);
    std::vector<Outgoing>().swap(batch_);
  }
  StartWriting();
}

// A protocol violation: close with `code` at once, dropping what was queued, and do not wait for
// the peer's answer.
template <typename Wire>
void WsSession<Wire>::Fail(std::uint16_t code) {
  NetLogger().debug("[conn {}] WebSocket protocol error; closing with {}", id_, code);
  failed_ = true;
  DropQueue();
  if (!close_sent_) {
    close_requested_ = true;
    close_code_ = code;
    close_reason_.clear();
    StartWriting();
  } else if (!writing_) {
    Finish(asio::error::connection_aborted);  // already closing: no second close frame
  }
}

template <typename Wire>
void WsSession<Wire>::DropQueue() {
  for (const auto& frame : queue_) {
    if (frame.opcode == ws::Opcode::kText) queued_bytes_ -= frame.payload.size();
  }
  queue_.clear();
}

template <typename Wire>
void WsSession<Wire>::GoAway() {
  // Still in the opening handshake: the handler has not seen the connection, so just drop it.
  if (!open_) {
    Finish(asio::error::operation_aborted);
    return;
  }
  Close(ws::kCloseGoingAway, "going away");
}

template <typename Wire>
void WsSession<Wire>::Abort() {
  Finish(asio::error::operation_aborted);
}

// Keep-alive and the handshake timeouts. Silence for ws_idle_timeout earns a ping; silence for
// twice as long drops the connection.
template <typename Wire>
void WsSession<Wire>::Tick(Clock::time_point now) {
  if (finished_) return;
  if (!open_ || close_sent_) {
    const auto since = open_ ? close_sent_at_ : started_;
    if (now - since >= kHandshakeTimeout) Finish(asio::error::timed_out);
    return;
  }
  const auto idle = core_->options.ws_idle_timeout;
  const auto silent = now - last_read_;
  if (silent >= 2 * idle) {
    Finish(asio::error::timed_out);
  } else if (silent >= idle && !ping_sent_) {
    ping_sent_ = true;
    Queue(ws::Opcode::kPing, {});
    StartWriting();
  }
}

// Closes the socket (which ends any operation still pending: its handler finds finished_ set),
// tells the handler, and gives back the connection's places.
template <typename Wire>
void WsSession<Wire>::Finish(const boost::system::error_code& ec) {
  if (finished_) return;
  finished_ = true;
  boost::system::error_code ignored;
  SocketOf(wire_).close(ignored);
  queue_.clear();
  queued_bytes_ = 0;

  NetLogger().debug("[conn {}] WebSocket closed: {}", id_, Why(ec));
  if (open_) {
    if (auto* handler = core_->handler) {
      handler->OnWsClose(this->shared_from_this());
    }
  }
  admission_.Release();
  core_->Unregister(id_);
}

template <typename Wire>
std::string WsSession<Wire>::Why(const boost::system::error_code& ec) const {
  if (peer_closed_) return "closed by the peer with " + std::to_string(peer_close_code_);
  if (ec == asio::error::timed_out) return "timed out";
  return ec.message();
}

}  // namespace

template <typename Stream>
void StartWsSession(const std::shared_ptr<ServerCore>& core, Stream stream, WireRequest upgrade,
                    std::uint64_t id, std::string remote, Admission admission) {
  auto wire = ToWire(std::move(stream));
  auto session = std::make_shared<WsSession<decltype(wire)>>(
      core, std::move(wire), id, std::move(remote), std::move(admission));
  core->Register(id, session);
  session->Start(upgrade);
}

template void StartWsSession<Transport>(const std::shared_ptr<ServerCore>&, Transport, WireRequest,
                                        std::uint64_t, std::string, Admission);
template void StartWsSession<TlsTransport>(const std::shared_ptr<ServerCore>&, TlsTransport,
                                           WireRequest, std::uint64_t, std::string, Admission);

}  // namespace sb::net
