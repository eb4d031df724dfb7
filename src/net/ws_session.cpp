// One WebSocket connection on Beast's websocket::stream: Beast answers the opening handshake,
// frames every message and control frame, and closes; this session reads text messages for the
// Handler and writes what the Handler sends. Beneath Beast a GatheringStream collects the frames
// written during one turn of the loop and sends them in one system call, so a message is framed
// by Beast's synchronous write at once and no queue of messages waits for a write operation.
//
// Memory: most connections sit idle, so an idle one holds its socket, Beast's stream state (whose
// fixed 1.5 KB read buffer is the largest part), this object and one pending read. The read is a
// plain callback chain, not a coroutine, and waits for a new message's first byte in a byte of
// this object's own, so an idle connection holds no message buffer; the buffer a message is read
// into is released after each message, and the gathered frames' buffer exists only while there is
// something to send. The read stays pending rather than waiting for readiness: Beast may hold
// the next frames in its own buffer, where a readiness wait on the socket would not see them.
// Keep-alive pings and timeouts are driven by the server's sweep (Session::Tick), not by a timer
// per connection.
//
// Lifetime: every pending operation's handler holds a shared_ptr to the session, so the session
// lives until the last of them has completed; ServerCore::sessions holds only a weak_ptr.
//
// TODO(net): an idle TLS connection still costs ~79 KB, nearly all of it asio::ssl::stream's two
// 17 KB record buffers and the two of its BIO pair (Beast's WebSocket state adds ~2.5 KB).
// SSL_MODE_RELEASE_BUFFERS on the context alone changes nothing measurable (79.0 KB either way,
// 1,000 idle connections): the buffers that count are asio's. Driving OpenSSL on the socket
// directly, with that mode, would bring it near the plain connection's figure.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/bind_allocator.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <limits>
#include <memory>
#include <utility>

#include "net/gathering_stream.h"
#include "net/session.h"

namespace sb::net {

namespace {

namespace websocket = beast::websocket;
using Clock = std::chrono::steady_clock;

// For the opening and the closing handshake.
constexpr std::chrono::seconds kHandshakeTimeout{30};
// Messages up to this many times max_frame_bytes are read and dropped with the connection kept;
// beyond it the peer is not playing by the rules, and Beast closes the connection with 1009.
constexpr std::size_t kHardCapFactor = 16;
// How much of a message one read takes at most once it has begun.
constexpr std::size_t kReadChunk = std::size_t{16} * 1024;

// Allocates exactly what is asked, from the heap. Asio's default handler memory is recycled per
// thread and hands an operation any cached block at least as large as it needs, so the read an
// idle connection keeps pending would otherwise often sit in a block sized for the handshake.
template <typename T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() = default;
  template <typename U>
  ExactAllocator(const ExactAllocator<U>& /*other*/) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* pointer, std::size_t /*n*/) noexcept { ::operator delete(pointer); }
  friend bool operator==(ExactAllocator, ExactAllocator) noexcept { return true; }
};

std::size_t HardCap(std::size_t max_frame_bytes) {
  const auto most = std::numeric_limits<std::size_t>::max();
  return max_frame_bytes > most / kHardCapFactor ? most : max_frame_bytes * kHardCapFactor;
}

// A socket bound to the io_context's own executor rather than any_io_executor: smaller, and so
// is every operation pending on it (each keeps the executor).
using PlainSocket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;

// What a WebSocket runs on: the bare socket for plain TCP (the sweep keeps time, so Beast's
// timed stream is not needed), and the TLS stream as the HTTP session had it. Should moving the
// descriptor to the other socket type fail, the socket is closed, and so the handshake fails.
GatheringStream<PlainSocket> ToWire(asio::io_context& io, Transport stream) {
  tcp::socket socket = stream.release_socket();
  PlainSocket plain(io.get_executor());
  boost::system::error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  if (!ec) {
    const auto descriptor = socket.release(ec);
    if (!ec) {
      plain.assign(protocol, descriptor, ec);
      if (ec) ::close(descriptor);
    }
  }  // else `socket` closes the descriptor
  return GatheringStream<PlainSocket>(std::move(plain));
}

GatheringStream<TlsTransport> ToWire(asio::io_context& /*io*/, TlsTransport stream) {
  beast::get_lowest_layer(stream).expires_never();
  return GatheringStream<TlsTransport>(std::move(stream));
}

PlainSocket& SocketOf(GatheringStream<PlainSocket>& wire) {
  return wire.next_layer();
}

tcp::socket& SocketOf(GatheringStream<TlsTransport>& wire) {
  return beast::get_lowest_layer(wire.next_layer()).socket();
}

template <typename Wire>
class WsSession final : public Session,
                        public WsConnection,
                        public std::enable_shared_from_this<WsSession<Wire>> {
 public:
  WsSession(std::shared_ptr<ServerCore> core, Wire wire, std::uint64_t id, std::string remote,
            Admission admission)
      : core_(std::move(core)),
        ws_(std::move(wire)),
        id_(id),
        remote_(std::move(remote)),
        admission_(std::move(admission)) {}

  // Has Beast answer `upgrade`; once the 101 is out, the connection is open.
  void Start(WireRequest upgrade);

  // WsConnection
  std::uint64_t id() const override { return id_; }
  const std::string& remote() const override { return remote_; }
  void Send(std::string_view text) override;
  void Close(std::uint16_t code, std::string reason) override;
  std::size_t QueuedBytes() const override { return ws_.next_layer().buffered(); }
  bool IsOpen() const override { return open_ && !finished_ && !close_sent_; }

  // Session
  void GoAway() override;
  void Abort() override;
  void Tick(Clock::time_point now) override;

 private:
  void Configure();
  void OnAccepted(const boost::system::error_code& ec);
  void ReadSome();
  std::size_t ReadLimit() const;
  void OnRead(const boost::system::error_code& ec, std::size_t bytes);
  void Dispatch();
  void HeardFromPeer();
  void Ping();
  void Finish(const boost::system::error_code& ec);
  std::string Why(const boost::system::error_code& ec) const;

  std::shared_ptr<ServerCore> core_;
  // Text only; no permessage-deflate, so the stream carries none of its state.
  websocket::stream<Wire, false> ws_;
  const std::uint64_t id_;
  const std::string remote_;
  Admission admission_;

  // Holds at most max_frame_bytes + 1 of the message being read. Exists only while a message is
  // being read: an idle connection holds a null pointer, not an empty buffer's bookkeeping.
  std::unique_ptr<beast::flat_buffer> message_;
  char first_byte_ = 0;     // where the read between messages puts the next message's first byte
  bool binary_ = false;     // the current message is binary: dropped as it arrives
  bool too_large_ = false;  // the current message is over max_frame_bytes: dropped likewise

  // When the opening handshake began; once our close frame is out, when that went.
  Clock::time_point handshake_began_ = Clock::now();
  Clock::time_point last_read_ = handshake_began_;
  bool open_ = false;  // from the handshake until Finish()
  bool ping_pending_ = false;
  bool ping_sent_ = false;   // a keep-alive ping went out since the peer was last heard
  bool close_sent_ = false;  // our async_close has begun, by Close()
  bool finished_ = false;
};

template <typename Wire>
void WsSession<Wire>::Start(WireRequest upgrade) {
  ws_.next_layer().keep_alive(this->weak_from_this());
  Configure();
  // Beast reads the request while it answers: the handler's copy of the pointer keeps it, and
  // `self` the session, alive until the handshake completes.
  auto request = std::make_shared<WireRequest>(std::move(upgrade));
  ws_.async_accept(*request, [self = this->shared_from_this(),
                              request](boost::system::error_code ec) { self->OnAccepted(ec); });
}

template <typename Wire>
void WsSession<Wire>::Configure() {
  // No Beast timeouts: the sweep keeps time for every connection (see Tick).
  ws_.set_option(websocket::stream_base::timeout{websocket::stream_base::none(),
                                                 websocket::stream_base::none(), false});
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& response) { response.set(http::field::server, kServerName); }));
  ws_.read_message_max(HardCap(core_->options.max_frame_bytes));
  ws_.text(true);
  // Pings and pongs are read by Beast inside a pending read; they show the peer is alive. The
  // stream is a member, so `this` outlives the callback.
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    if (kind != websocket::frame_type::close) HeardFromPeer();
  });
}

template <typename Wire>
void WsSession<Wire>::OnAccepted(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec) {
    NetLogger().debug("[conn {}] WebSocket handshake refused or failed: {}", id_, ec.message());
    // Beast's answer to a refused upgrade (such as 426) is gathered, not yet sent.
    ws_.next_layer().async_drain(
        [self = this->shared_from_this(), ec](boost::system::error_code) { self->Finish(ec); });
    return;
  }

  open_ = true;
  HeardFromPeer();
  NetLogger().debug("[conn {}] WebSocket open", id_);
  if (auto* handler = core_->handler) {
    handler->OnWsOpen(this->shared_from_this());
  }
  if (!finished_) ReadSome();
}

template <typename Wire>
void WsSession<Wire>::ReadSome() {
  // Between messages the read waits with a one-byte buffer of this object's own; inside a message
  // it reads into message_. Reading into a plain buffer, rather than Beast's dynamic-buffer read,
  // also keeps the operation pending on an idle connection one layer smaller.
  // The handler's `self` keeps the session, and so the stream and the buffers, alive meanwhile.
  auto on_read = [self = this->shared_from_this()](boost::system::error_code ec,
                                                   std::size_t bytes) { self->OnRead(ec, bytes); };
  if (message_) {
    ws_.async_read_some(message_->prepare(ReadLimit()), std::move(on_read));
    return;
  }
  // The read that may wait for a long time is sized exactly.
  ws_.async_read_some(asio::buffer(&first_byte_, 1),
                      asio::bind_allocator(ExactAllocator<void>(), std::move(on_read)));
}

// Inside a message: chunks no larger than what is left of the frame being read, so that a small
// message gets a small buffer (a 16 KiB one per message cost the allocator a slow path each), and
// one byte past max_frame_bytes is enough to know a message is too large. (Between messages
// ReadSome reads one byte into first_byte_.) Once our close has begun, Beast's close reads and
// drops frames on its own, and what is left of a frame is no longer known: full chunks then.
template <typename Wire>
std::size_t WsSession<Wire>::ReadLimit() const {
  if (binary_ || too_large_ || close_sent_) return kReadChunk;
  const std::size_t chunk = std::clamp<std::size_t>(ws_.read_size_hint(kReadChunk), 1, kReadChunk);
  const auto max = core_->options.max_frame_bytes;
  const auto left = max > message_->size() ? max - message_->size() : 0;
  return left >= chunk ? chunk : left + 1;
}

// Binary and oversized messages are dropped as they arrive, so that a large message costs no
// more memory than a small one.
template <typename Wire>
void WsSession<Wire>::OnRead(const boost::system::error_code& ec, std::size_t bytes) {
  if (finished_) return;
  if (ec) {
    Finish(ec);
    return;
  }

  HeardFromPeer();
  if (message_) {
    message_->commit(bytes);
  } else {
    message_ = std::make_unique<beast::flat_buffer>();
    if (bytes > 0) {
      message_->commit(asio::buffer_copy(message_->prepare(1), asio::buffer(&first_byte_, 1)));
    }
  }
  binary_ = ws_.got_binary();
  if (!binary_ && message_->size() > core_->options.max_frame_bytes) too_large_ = true;
  if (binary_ || too_large_) message_->consume(message_->size());
  if (!ws_.is_message_done()) {
    ReadSome();
    return;
  }

  Dispatch();
  binary_ = too_large_ = false;
  message_.reset();
  if (!finished_) ReadSome();
}

template <typename Wire>
void WsSession<Wire>::Dispatch() {
  auto* handler = core_->handler;
  // After Close() the handler has given up on this connection: what still arrives is dropped.
  if (handler == nullptr || !IsOpen()) return;

  auto self = this->shared_from_this();
  try {
    if (binary_) {
      NetLogger().debug("[conn {}] refused a binary message", id_);
      handler->OnWsRefused(self, WsRefusal::kBinary);
    } else if (too_large_) {
      NetLogger().debug("[conn {}] refused a message over {} bytes", id_,
                        core_->options.max_frame_bytes);
      handler->OnWsRefused(self, WsRefusal::kTooLarge);
    } else {
      const auto data = message_->data();
      handler->OnWsText(self, {static_cast<const char*>(data.data()), data.size()});
    }
  } catch (const std::exception& e) {
    // A handler that throws is a bug; it costs this connection, not the loop.
    NetLogger().error("[conn {}] failed: {}", id_, e.what());
    Finish(asio::error::fault);
  }
}

template <typename Wire>
void WsSession<Wire>::HeardFromPeer() {
  last_read_ = Clock::now();
  ping_sent_ = false;
}

// Beast frames the message at once into the gathering stream, which sends it at the end of this
// turn of the loop with whatever else this connection is sent meanwhile. A write fails only once
// a send has failed, and then the socket is closed and the pending read ends the session.
template <typename Wire>
void WsSession<Wire>::Send(std::string_view text) {
  if (!IsOpen() || !ws_.is_open()) return;
  boost::system::error_code ec;
  ws_.write(asio::buffer(text), ec);
  if (ec) NetLogger().debug("[conn {}] write failed: {}", id_, ec.message());
}

// The close frame follows whatever was sent before it. Beast completes the close when the peer's
// answer is read (by the pending read or by the close itself) and the connection is torn down.
template <typename Wire>
void WsSession<Wire>::Close(std::uint16_t code, std::string reason) {
  if (!IsOpen()) return;
  NetLogger().debug("[conn {}] closing with {}", id_, code);
  // The close frame has room for 123 bytes of reason.
  websocket::close_reason close(code);
  close.reason.assign(reason.data(), std::min(reason.size(), close.reason.max_size()));
  close_sent_ = true;
  handshake_began_ = Clock::now();
  ws_.async_close(close, [self = this->shared_from_this()](boost::system::error_code ec) {
    self->Finish(ec ? ec : websocket::error::closed);
  });
}

template <typename Wire>
void WsSession<Wire>::Ping() {
  if (ping_pending_ || close_sent_) return;
  ping_pending_ = true;
  ping_sent_ = true;
  ws_.async_ping({}, [self = this->shared_from_this()](boost::system::error_code ec) {
    self->ping_pending_ = false;
    if (ec) self->Finish(ec);
  });
}

template <typename Wire>
void WsSession<Wire>::GoAway() {
  // Still in the opening handshake: the handler has not seen the connection, so just drop it.
  if (!open_) {
    Finish(asio::error::operation_aborted);
    return;
  }
  Close(websocket::close_code::going_away, "going away");
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
    if (now - handshake_began_ >= kHandshakeTimeout) Finish(asio::error::timed_out);
    return;
  }
  const auto idle = core_->options.ws_idle_timeout;
  const auto silent = now - last_read_;
  if (silent >= 2 * idle) {
    Finish(asio::error::timed_out);
  } else if (silent >= idle && !ping_sent_) {
    Ping();
  }
}

// Closes the socket (which ends every operation still pending: its handler finds finished_ set),
// tells the handler, and gives back the connection's places.
template <typename Wire>
void WsSession<Wire>::Finish(const boost::system::error_code& ec) {
  if (finished_) return;
  finished_ = true;
  boost::system::error_code ignored;
  SocketOf(ws_.next_layer()).close(ignored);

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
  if (ec == websocket::error::closed && ws_.reason().code != websocket::close_code::none) {
    return "closed with " + std::to_string(ws_.reason().code);
  }
  if (ec == asio::error::timed_out) return "timed out";
  return ec.message();
}

}  // namespace

template <typename Stream>
void StartWsSession(const std::shared_ptr<ServerCore>& core, Stream stream, WireRequest upgrade,
                    std::uint64_t id, std::string remote, Admission admission) {
  auto wire = ToWire(core->io, std::move(stream));
  auto session = std::make_shared<WsSession<decltype(wire)>>(
      core, std::move(wire), id, std::move(remote), std::move(admission));
  core->Register(id, session);
  session->Start(std::move(upgrade));
}

template void StartWsSession<Transport>(const std::shared_ptr<ServerCore>&, Transport, WireRequest,
                                        std::uint64_t, std::string, Admission);
template void StartWsSession<TlsTransport>(const std::shared_ptr<ServerCore>&, TlsTransport,
                                           WireRequest, std::uint64_t, std::string, Admission);

}  // namespace sb::net
