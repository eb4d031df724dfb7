// A stream layer beneath Beast's WebSocket stream that gathers writes: what a connection is
// written while the event loop works through its ready handlers (data frames and Beast's own
// control frames alike) leaves in one system call. The first write posts the send. When it runs,
// the send waits behind the handlers queued meanwhile for as long as they keep writing to this
// stream: it goes once kQuietLooks looks in a row found nothing new, or after kMaxDeferrals
// looks, or at kDeferBelow bytes. The write usually came from a handler that has just queued its
// successor (the read of a peer's next frame, which takes two handlers: its first byte, then the
// rest), so under load a connection's frames of many turns leave together, while a lone frame
// waits two turns of the loop.
// A write copies its bytes into the layer's buffer and never blocks, so the owner may write frames
// with Beast's synchronous write; the layer sends the buffer with one operation of its own at a
// time. The buffer exists only while there is something to send: an idle connection holds one
// null pointer here.
//
// Contract:
// - write_some() and async_write_some() take every byte they are given; the buffer has no bound
//   of its own, so an owner bounds it by watching buffered(). Once a send has failed, every later
//   write fails with that error, and the lowest socket has been closed, so the owner's pending
//   read ends too.
// - async_write_some() completes through the stream's executor, never inside the call.
// - async_teardown() sends what is buffered before the next layer's own teardown.
// - Not thread-safe: everything runs on the stream's executor, as with the socket beneath.
// - A send in flight keeps alive what keep_alive() was given (the stream's owner), so the stream
//   outlives the operations on it; a stream gone meanwhile makes its send stop.
// - A stream moved from holds nothing; move one only while nothing is buffered.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>
#include <boost/smart_ptr/intrusive_ref_counter.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace sb::net {

template <typename NextLayer>
class GatheringStream {
 public:
  using next_layer_type = NextLayer;
  using executor_type = typename NextLayer::executor_type;

  explicit GatheringStream(NextLayer next) : next_(std::move(next)) {}
  GatheringStream(GatheringStream&& other) noexcept
      : next_(std::move(other.next_)), gather_(std::move(other.gather_)) {
    if (gather_) gather_->owner = this;
  }
  GatheringStream& operator=(GatheringStream&&) = delete;
  ~GatheringStream() {
    if (gather_) gather_->owner = nullptr;  // a send still in flight finds no one to go on for
  }

  executor_type get_executor() { return next_.get_executor(); }
  NextLayer& next_layer() { return next_; }
  // What a send in flight holds, so that the stream outlives it: the stream's owner.
  void keep_alive(std::weak_ptr<void> owner) { owner_ = std::move(owner); }
  const NextLayer& next_layer() const { return next_; }

  // Bytes written and not yet handed to the socket in full.
  std::size_t buffered() const {
    return gather_ ? gather_->filling.size() + gather_->sending.size() - gather_->sent : 0;
  }

  template <typename Buffers>
  std::size_t write_some(const Buffers& buffers, boost::system::error_code& ec);
  template <typename Buffers>
  std::size_t write_some(const Buffers& buffers);
  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token);

  template <typename Buffers>
  std::size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
    return next_.read_some(buffers, ec);
  }
  template <typename Buffers>
  std::size_t read_some(const Buffers& buffers) {
    return next_.read_some(buffers);
  }
  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return next_.async_read_some(buffers, std::forward<Token>(token));
  }

  // Completes once everything written so far has been sent, or a send failed.
  template <typename Token>
  auto async_drain(Token&& token);

 private:
  using DrainHandler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

  // Shared with the send in flight, which may outlive the stream (it then stops).
  struct Gather : boost::intrusive_ref_counter<Gather, boost::thread_unsafe_counter> {
    GatheringStream* owner = nullptr;
    std::string filling;  // written since the send in flight began
    std::string sending;  // handed to the socket from `sent` on
    std::size_t sent = 0;
    std::size_t seen = 0;         // filling's size when the send was last posted
    unsigned deferrals = 0;       // times the posted send has waited for more
    unsigned quiet_looks = 0;     // looks in a row that found nothing new
    bool send_scheduled = false;  // a send is posted or in flight
    boost::system::error_code failed;
    DrainHandler drained;
  };

  Gather& Gathered();
  void ScheduleSend();
  using GatherPtr = boost::intrusive_ptr<Gather>;
  // How many times a posted send waits for more writes, and up to what size.
  static constexpr unsigned kMaxDeferrals = 32;
  static constexpr unsigned kQuietLooks = 2;
  static constexpr std::size_t kDeferBelow = 64 * 1024;

  static void Post(GatherPtr gather);
  static void Send(const GatherPtr& gather);
  static void SendSome(const GatherPtr& gather, std::shared_ptr<void> hold);
  static void OnSent(const GatherPtr& gather, const boost::system::error_code& ec);
  static void CloseLowest(NextLayer& next);

  NextLayer next_;
  GatherPtr gather_;
  std::weak_ptr<void> owner_;
};

template <typename NextLayer>
typename GatheringStream<NextLayer>::Gather& GatheringStream<NextLayer>::Gathered() {
  if (!gather_) {
    gather_ = new Gather;
    gather_->owner = this;
  }
  return *gather_;
}

template <typename NextLayer>
template <typename Buffers>
std::size_t GatheringStream<NextLayer>::write_some(const Buffers& buffers,
                                                   boost::system::error_code& ec) {
  Gather& gather = Gathered();
  ec = gather.failed;
  if (ec) return 0;

  const std::size_t size = boost::asio::buffer_size(buffers);
  gather.filling.reserve(gather.filling.size() + size);
  for (auto it = boost::asio::buffer_sequence_begin(buffers);
       it != boost::asio::buffer_sequence_end(buffers); ++it) {
    const boost::asio::const_buffer piece(*it);
    gather.filling.append(static_cast<const char*>(piece.data()), piece.size());
  }
  ScheduleSend();
  return size;
}

template <typename NextLayer>
template <typename Buffers>
std::size_t GatheringStream<NextLayer>::write_some(const Buffers& buffers) {
  boost::system::error_code ec;
  const std::size_t size = write_some(buffers, ec);
  if (ec) throw boost::system::system_error(ec);
  return size;
}

template <typename NextLayer>
template <typename Buffers, typename Token>
auto GatheringStream<NextLayer>::async_write_some(const Buffers& buffers, Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
      [this](auto handler, const Buffers& buffers) {
        boost::system::error_code ec;
        const std::size_t size = write_some(buffers, ec);
        boost::asio::post(get_executor(), boost::asio::append(std::move(handler), ec, size));
      },
      token, buffers);
}

template <typename NextLayer>
template <typename Token>
auto GatheringStream<NextLayer>::async_drain(Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
      [this](auto handler) {
        if (!gather_ || !gather_->send_scheduled || gather_->failed) {
          const auto ec = gather_ ? gather_->failed : boost::system::error_code{};
          boost::asio::post(get_executor(), boost::asio::append(std::move(handler), ec));
          return;
        }
        // Swapped in: Boost 1.81's move assignment of any_completion_handler never returns.
        DrainHandler(std::move(handler)).swap(gather_->drained);
      },
      token);
}

// The first write of a turn posts the send, so that the writes of the rest of the turn join it.
template <typename NextLayer>
void GatheringStream<NextLayer>::ScheduleSend() {
  if (gather_->send_scheduled) return;
  gather_->send_scheduled = true;
  Post(gather_);
}

template <typename NextLayer>
void GatheringStream<NextLayer>::Post(GatherPtr gather) {
  gather->seen = gather->filling.size();
  auto executor = gather->owner->get_executor();
  boost::asio::post(executor, [gather = std::move(gather)] { Send(gather); });
}

template <typename NextLayer>
void GatheringStream<NextLayer>::Send(const GatherPtr& gather) {
  if (gather->owner == nullptr) return;
  const std::size_t size = gather->filling.size();
  gather->quiet_looks = size == gather->seen ? gather->quiet_looks + 1 : 0;
  if (gather->quiet_looks <= kQuietLooks && size < kDeferBelow &&
      gather->deferrals < kMaxDeferrals) {
    ++gather->deferrals;
    Post(gather);
    return;
  }
  gather->deferrals = 0;
  gather->quiet_looks = 0;
  gather->sending.swap(gather->filling);  // `filling` keeps the old buffer's memory for reuse
  gather->sent = 0;
  SendSome(gather, gather->owner->owner_.lock());
}

// One write_some at a time rather than a composed write, so that a stream gone between two of
// them is noticed (its owner pointer is null) before the socket is touched again.
template <typename NextLayer>
void GatheringStream<NextLayer>::SendSome(const GatherPtr& gather, std::shared_ptr<void> hold) {
  const std::string& sending = gather->sending;
  gather->owner->next_.async_write_some(
      boost::asio::buffer(sending.data() + gather->sent, sending.size() - gather->sent),
      [gather, hold = std::move(hold)](const boost::system::error_code& ec,
                                       std::size_t bytes) mutable {
        gather->sent += bytes;
        if (!ec && gather->owner != nullptr && gather->sent < gather->sending.size()) {
          SendSome(gather, std::move(hold));
          return;
        }
        OnSent(gather, ec);
      });
}

// Sends what gathered meanwhile; once all is sent, hands the buffers back and wakes a drain.
template <typename NextLayer>
void GatheringStream<NextLayer>::OnSent(const GatherPtr& gather,
                                        const boost::system::error_code& ec) {
  gather->sending.clear();
  gather->sent = 0;
  GatheringStream* owner = gather->owner;
  if (owner == nullptr) return;

  if (ec) {
    gather->failed = ec;
    gather->filling.clear();
    CloseLowest(owner->next_);
  } else if (!gather->filling.empty()) {
    Send(gather);
    return;
  }

  gather->send_scheduled = false;
  DrainHandler drained;
  drained.swap(gather->drained);
  if (!ec) owner->gather_.reset();  // idle: a failed stream keeps its error
  if (drained) std::move(drained)(ec);
}

template <typename NextLayer>
void GatheringStream<NextLayer>::CloseLowest(NextLayer& next) {
  boost::system::error_code ignored;
  auto& lowest = boost::beast::get_lowest_layer(next);
  if constexpr (requires { lowest.socket(); }) {
    lowest.socket().close(ignored);
  } else {
    lowest.close(ignored);
  }
}

// Beast's WebSocket stream finds this by argument-dependent lookup when it closes the connection:
// the close frame and whatever precedes it leave before the next layer is torn down.
template <typename NextLayer, typename TeardownHandler>
void async_teardown(boost::beast::role_type role, GatheringStream<NextLayer>& stream,
                    TeardownHandler&& handler) {
  stream.async_drain([&stream, role, handler = std::forward<TeardownHandler>(handler)](
                         const boost::system::error_code&) mutable {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, stream.next_layer(), std::move(handler));
  });
}

}  // namespace sb::net
