// One WebSocket connection: completes the handshake, reads text messages for the Handler, and
// writes what the Handler queues, one message at a time.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <deque>
#include <limits>
#include <optional>
#include <utility>

#include "net/session.h"

namespace sb::net {

namespace {

namespace websocket = beast::websocket;

// How much of a message one read takes at most.
constexpr std::size_t kReadChunk = std::size_t{16} * 1024;
// For the opening and the closing handshake.
constexpr std::chrono::seconds kHandshakeTimeout{30};
// Messages up to this many times max_frame_bytes are read and dropped with the connection kept;
// beyond it the peer is not playing by the rules, and the connection is closed with 1009.
constexpr std::size_t kHardCapFactor = 16;

std::size_t HardCap(std::size_t max_frame_bytes) {
  const auto most = std::numeric_limits<std::size_t>::max();
  return max_frame_bytes > most / kHardCapFactor ? most : max_frame_bytes * kHardCapFactor;
}

std::string Why(const boost::system::error_code& ec, const websocket::close_reason& reason) {
  if (ec == websocket::error::closed) {
    return "closed by the peer with " + std::to_string(reason.code);
  }
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

template <typename Stream>
class WsSession final : public Session,
                        public WsConnection,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(std::shared_ptr<ServerCore> core, Stream stream, std::uint64_t id, std::string remote,
            Admission admission)
      : core_(std::move(core)),
        ws_(std::move(stream)),
        id_(id),
        remote_(std::move(remote)),
        admission_(std::move(admission)) {}

  asio::awaitable<void> Run(std::shared_ptr<WsSession> self, WireRequest upgrade);

  std::uint64_t id() const override { return id_; }
  const std::string& remote() const override { return remote_; }
  void Send(std::string text) override;
  void Close(std::uint16_t code, std::string reason) override;
  std::size_t QueuedBytes() const override { return queued_bytes_; }
  bool IsOpen() const override { return open_ && !close_reason_; }

  void GoAway() override;
  void Abort() override;

 private:
  // What was learnt about a message while reading it.
  struct Message {
    bool binary = false;
    bool too_large = false;
  };

  void Configure();
  asio::awaitable<boost::system::error_code> Accept(WireRequest upgrade);
  asio::awaitable<boost::system::error_code> ReadLoop();
  asio::awaitable<boost::system::error_code> ReadMessage(Message& message);
  std::size_t ReadLimit(const Message& message) const;
  void Dispatch(const Message& message);
  void StartWriting();
  asio::awaitable<void> WriteQueued(std::shared_ptr<WsSession> self);
  void MarkClosed();
  void Finish(const boost::system::error_code& ec);

  std::shared_ptr<ServerCore> core_;
  websocket::stream<Stream> ws_;
  // Holds at most max_frame_bytes + 1 of a message; emptied and shrunk after each one, since
  // most connections are idle most of the time.
  beast::flat_buffer buffer_;
  const std::uint64_t id_;
  const std::string remote_;
  Admission admission_;

  std::deque<std::string> queue_;  // the front is being written while writing_
  std::size_t queued_bytes_ = 0;
  std::optional<websocket::close_reason> close_reason_;  // set by Close()
  bool writing_ = false;
  bool open_ = false;  // from the handshake until OnWsClose
};

template <typename Stream>
asio::awaitable<void> WsSession<Stream>::Run([[maybe_unused]] std::shared_ptr<WsSession> self,
                                             WireRequest upgrade) {
  // `self` lives in this frame, so the session outlives every suspension below and in the
  // member coroutines it awaits.
  boost::system::error_code ec;
  try {
    ec = co_await Accept(std::move(upgrade));
    if (!ec) {
      ec = co_await ReadLoop();
    }
  } catch (const std::exception& e) {
    NetLogger().error("[conn {}] failed: {}", id_, e.what());
    ec = asio::error::fault;
  }
  Finish(ec);
}

template <typename Stream>
void WsSession<Stream>::Configure() {
  const auto& options = core_->options;
  // The WebSocket layer keeps its own time; the TCP layer's timer would cut idle connections.
  beast::get_lowest_layer(ws_).expires_never();

  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = kHandshakeTimeout;
  // Beast pings after half the idle timeout, and gives up after all of it.
  timeout.idle_timeout = 2 * options.ws_idle_timeout;
  timeout.keep_alive_pings = true;
  ws_.set_option(timeout);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& response) { response.set(http::field::server, kServerName); }));

  ws_.read_message_max(HardCap(options.max_frame_bytes));
  ws_.text(true);
}

template <typename Stream>
asio::awaitable<boost::system::error_code> WsSession<Stream>::Accept(WireRequest upgrade) {
  Configure();
  // `upgrade` is in this frame until the handshake ends; Run's `self` keeps the stream.
  auto [ec] = co_await ws_.async_accept(upgrade, kNoThrow);
  if (ec) co_return ec;

  open_ = true;
  NetLogger().debug("[conn {}] WebSocket open", id_);
  if (auto* handler = core_->handler) {
    handler->OnWsOpen(this->shared_from_this());
  }
  co_return ec;
}

template <typename Stream>
asio::awaitable<boost::system::error_code> WsSession<Stream>::ReadLoop() {
  for (;;) {
    Message message;
    auto ec = co_await ReadMessage(message);
    if (ec) co_return ec;
    Dispatch(message);
    buffer_.clear();
    buffer_.shrink_to_fit();
  }
}

// Reads one message piece by piece. Binary and oversized ones are dropped as they arrive, so
// that a large message costs no more memory than a small one.
template <typename Stream>
asio::awaitable<boost::system::error_code> WsSession<Stream>::ReadMessage(Message& message) {
  do {
    // Run's `self` keeps the stream and the buffer alive.
    auto [ec, bytes] = co_await ws_.async_read_some(buffer_, ReadLimit(message), kNoThrow);
    if (ec) co_return ec;

    message.binary = ws_.got_binary();
    if (!message.binary && buffer_.size() > core_->options.max_frame_bytes) {
      message.too_large = true;
    }
    if (message.binary || message.too_large) {
      buffer_.consume(buffer_.size());
    }
  } while (!ws_.is_message_done());
  co_return boost::system::error_code{};
}

// One byte past max_frame_bytes is enough to know a message is too large.
template <typename Stream>
std::size_t WsSession<Stream>::ReadLimit(const Message& message) const {
  if (message.binary || message.too_large) return kReadChunk;
  const auto left = core_->options.max_frame_bytes - buffer_.size();
  return left >= kReadChunk ? kReadChunk : left + 1;
}

template <typename Stream>
void WsSession<Stream>::Dispatch(const Message& message) {
  auto* handler = core_->handler;
  // After Close() the handler has given up on this connection: what still arrives is dropped.
  if (handler == nullptr || !IsOpen()) return;

  auto self = this->shared_from_this();
  if (message.binary) {
    NetLogger().debug("[conn {}] refused a binary message", id_);
    handler->OnWsRefused(self, WsRefusal::kBinary);
  } else if (message.too_large) {
    NetLogger().debug("[conn {}] refused a message over {} bytes", id_,
                      core_->options.max_frame_bytes);
    handler->OnWsRefused(self, WsRefusal::kTooLarge);
  } else {
    const auto data = buffer_.data();
    handler->OnWsText(self, {static_cast<const char*>(data.data()), data.size()});
  }
}

template <typename Stream>
void WsSession<Stream>::Send(std::string text) {
  if (!IsOpen()) return;
  queued_bytes_ += text.size();
  queue_.push_back(std::move(text));
  StartWriting();
}

template <typename Stream>
void WsSession<Stream>::Close(std::uint16_t code, std::string reason) {
  if (!IsOpen()) return;
  // The close frame has room for 123 bytes of reason.
  websocket::close_reason close(code);
  close.reason.assign(reason.data(), std::min(reason.size(), close.reason.max_size()));
  close_reason_ = close;

  NetLogger().debug("[conn {}] closing with {}", id_, code);
  StartWriting();
}

template <typename Stream>
void WsSession<Stream>::StartWriting() {
  if (writing_) return;
  writing_ = true;
  // The coroutine's `self` parameter keeps the session and its queue alive while it writes.
  asio::co_spawn(ws_.get_executor(), WriteQueued(this->shared_from_this()), LogUnexpected{});
}

template <typename Stream>
asio::awaitable<void> WsSession<Stream>::WriteQueued(
    [[maybe_unused]] std::shared_ptr<WsSession> self) {
  boost::system::error_code ec;
  while (open_ && !queue_.empty() && !ec) {
    // `self` keeps the front string alive; appending to a deque leaves it where it is.
    std::tie(ec, std::ignore) = co_await ws_.async_write(asio::buffer(queue_.front()), kNoThrow);
    if (!ec) {
      queued_bytes_ -= queue_.front().size();
      queue_.pop_front();
    }
  }
  if (open_ && !ec && close_reason_) {
    // The read loop sees the peer's answering close frame and finishes the session.
    std::tie(ec) = co_await ws_.async_close(*close_reason_, kNoThrow);
  }

  if (ec) {
    NetLogger().debug("[conn {}] write failed: {}", id_, ec.message());
  }
  if (ec || !open_) {
    queue_.clear();
    queued_bytes_ = 0;
  }
  writing_ = false;
}

template <typename Stream>
void WsSession<Stream>::MarkClosed() {
  if (!open_) return;
  open_ = false;
  if (auto* handler = core_->handler) {
    handler->OnWsClose(this->shared_from_this());
  }
}

template <typename Stream>
void WsSession<Stream>::GoAway() {
  // Still in the opening handshake: the handler has not seen the connection, so just drop it.
  if (!open_) {
    beast::get_lowest_layer(ws_).close();
    return;
  }
  Close(websocket::close_code::going_away, "going away");
}

template <typename Stream>
void WsSession<Stream>::Abort() {
  beast::get_lowest_layer(ws_).close();
  MarkClosed();
}

template <typename Stream>
void WsSession<Stream>::Finish(const boost::system::error_code& ec) {
  // Also ends a write still in flight, which then empties the queue.
  beast::get_lowest_layer(ws_).close();
  if (!writing_) {
    queue_.clear();
    queued_bytes_ = 0;
  }

  NetLogger().debug("[conn {}] WebSocket closed: {}", id_, Why(ec, ws_.reason()));
  MarkClosed();
  admission_.Release();
  core_->Unregister(id_);
}

}  // namespace

template <typename Stream>
void StartWsSession(const std::shared_ptr<ServerCore>& core, Stream stream, WireRequest upgrade,
                    std::uint64_t id, std::string remote, Admission admission) {
  auto session = std::make_shared<WsSession<Stream>>(core, std::move(stream), id, std::move(remote),
                                                     std::move(admission));
  core->Register(id, session);
  // The coroutine's `self` parameter owns the session until the connection is done.
  asio::co_spawn(core->io, session->Run(session, std::move(upgrade)), LogUnexpected{});
}

template void StartWsSession<Transport>(const std::shared_ptr<ServerCore>&, Transport, WireRequest,
                                        std::uint64_t, std::string, Admission);
template void StartWsSession<TlsTransport>(const std::shared_ptr<ServerCore>&, TlsTransport,
                                           WireRequest, std::uint64_t, std::string, Admission);

}  // namespace sb::net
