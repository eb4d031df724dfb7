// The write-gathering layer beneath the WebSocket stream: what it sends, in how many sends, in
// what order, and what happens when the peer goes away or the stream does. Everything runs on one
// io_context on the test's thread, over a real loopback TCP connection.
#include "net/gathering_stream.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <functional>
#include <memory>
#include <string>

namespace sb::net {
namespace {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using asio::ip::tcp;
using Socket = tcp::socket;

// A socket that counts the writes handed to it: the layer under test sits on top of it.
class CountingSocket {
 public:
  using executor_type = Socket::executor_type;
  using lowest_layer_type = Socket::lowest_layer_type;

  CountingSocket(Socket socket, int& writes) : socket_(std::move(socket)), writes_(&writes) {}

  executor_type get_executor() { return socket_.get_executor(); }
  lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
  Socket& next_layer() { return socket_; }

  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    ++*writes_;
    return socket_.async_write_some(buffers, std::forward<Token>(token));
  }
  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }
  template <typename Buffers>
  std::size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
    return socket_.read_some(buffers, ec);
  }
  template <typename Buffers>
  std::size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
    ++*writes_;
    return socket_.write_some(buffers, ec);
  }

 private:
  Socket socket_;
  int* writes_;
};

class GatheringStreamTest : public ::testing::Test {
 protected:
  // A connected pair of loopback sockets: `near` for the layer, `far` for the test's reading.
  void SetUp() override {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    near_.connect(acceptor.local_endpoint());
    acceptor.accept(far_);
  }

  // Reads exactly `size` bytes from the far end (blocking; what was sent is in the kernel).
  std::string ReadFar(std::size_t size) {
    std::string bytes(size, '\0');
    asio::read(far_, asio::buffer(bytes));
    return bytes;
  }

  // Runs handlers until `done` holds or nothing is left to run.
  void RunUntil(const std::function<bool()>& done) {
    io_.restart();
    while (!done() && io_.run_one() > 0) {
    }
  }

  asio::io_context io_;
  Socket near_{io_};
  Socket far_{io_};
  int writes_ = 0;
};

TEST_F(GatheringStreamTest, WritesOfOneHandlerLeaveInOneSend) {
  GatheringStream<CountingSocket> stream(CountingSocket(std::move(near_), writes_));
  asio::post(io_, [&] {
    boost::system::error_code ec;
    for (const char* piece : {"one ", "two ", "three"}) {
      EXPECT_EQ(stream.write_some(asio::buffer(std::string(piece)), ec), std::strlen(piece));
      EXPECT_FALSE(ec);
    }
    EXPECT_EQ(stream.buffered(), 13u);
  });
  RunUntil([] { return false; });

  EXPECT_EQ(writes_, 1);
  EXPECT_EQ(stream.buffered(), 0u);
  EXPECT_EQ(ReadFar(13), "one two three");
}

// A burst read from a peer is handled one frame per handler, each queuing the next, and some
// handlers in between write nothing: the send waits behind them while they keep writing.
TEST_F(GatheringStreamTest, WritesOfAChainOfHandlersJoinOneSend) {
  GatheringStream<CountingSocket> stream(CountingSocket(std::move(near_), writes_));
  std::function<void(int)> step = [&](int left) {
    stream.write_some(asio::buffer(std::to_string(left)));
    if (left == 0) return;
    // A handler that writes nothing before the next that does, as a frame's read takes two.
    asio::post(io_, [this, &step, left] { asio::post(io_, [&step, left] { step(left - 1); }); });
  };
  asio::post(io_, [&] { step(9); });
  RunUntil([] { return false; });

  EXPECT_EQ(writes_, 1);
  EXPECT_EQ(ReadFar(10), "9876543210");
}

TEST_F(GatheringStreamTest, WritesAfterTheSendLeaveInTheNextSendInOrder) {
  GatheringStream<CountingSocket> stream(CountingSocket(std::move(near_), writes_));
  stream.write_some(asio::buffer(std::string("first ")));
  RunUntil([&] { return writes_ == 1; });  // the send is in flight
  stream.write_some(asio::buffer(std::string("second")));
  RunUntil([] { return false; });
  EXPECT_EQ(stream.buffered(), 0u);
  stream.write_some(asio::buffer(std::string(" third")));
  EXPECT_EQ(stream.buffered(), 6u) << "only what waits counts";
  RunUntil([] { return false; });

  EXPECT_EQ(writes_, 3);
  EXPECT_EQ(ReadFar(18), "first second third");
}

TEST_F(GatheringStreamTest, AsyncWriteCompletesThroughTheExecutorNeverInside) {
  GatheringStream<Socket> stream(std::move(near_));
  bool inside = true;
  bool completed = false;
  std::size_t written = 0;
  stream.async_write_some(asio::buffer(std::string("ping")),
                          [&](boost::system::error_code ec, std::size_t bytes) {
                            EXPECT_FALSE(ec);
                            EXPECT_FALSE(inside);
                            completed = true;
                            written = bytes;
                          });
  inside = false;
  EXPECT_FALSE(completed);
  RunUntil([] { return false; });

  EXPECT_TRUE(completed);
  EXPECT_EQ(written, 4u);
  EXPECT_EQ(ReadFar(4), "ping");
}

// More than the kernel takes at once: the send goes on in pieces while the peer reads, and the
// owner is kept alive until the last piece is out.
TEST_F(GatheringStreamTest, ALargeBacklogArrivesWholeAndKeepsItsOwnerAliveMeanwhile) {
  std::string payload(8 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>('a' + i % 26);

  auto owner = std::make_shared<int>(0);
  std::weak_ptr<int> watch = owner;
  GatheringStream<Socket> stream(std::move(near_));
  stream.keep_alive(owner);
  stream.write_some(asio::buffer(payload));
  RunUntil([&] { return stream.buffered() < payload.size(); });  // partly handed to the kernel
  owner.reset();
  EXPECT_FALSE(watch.expired()) << "the send in flight holds the owner";

  std::string received(payload.size(), '\0');
  asio::async_read(far_, asio::buffer(received),
                   [](boost::system::error_code ec, std::size_t) { EXPECT_FALSE(ec); });
  RunUntil([] { return false; });

  EXPECT_EQ(stream.buffered(), 0u);
  EXPECT_TRUE(received == payload);
  EXPECT_TRUE(watch.expired());
}

TEST_F(GatheringStreamTest, AFailedSendFailsLaterWritesAndClosesTheSocket) {
  GatheringStream<Socket> stream(std::move(near_));
  far_.set_option(asio::socket_base::linger(true, 0));
  far_.close();  // the peer resets the connection

  boost::system::error_code ec;
  for (int i = 0; i < 100 && !ec; ++i) {
    stream.write_some(asio::buffer(std::string(1024, 'x')), ec);
    RunUntil([] { return false; });
  }
  ASSERT_TRUE(ec) << "a write after the failed send reports it";
  EXPECT_FALSE(stream.next_layer().is_open());
  EXPECT_EQ(stream.write_some(asio::buffer(std::string("more")), ec), 0u);
  EXPECT_TRUE(ec);
}

TEST_F(GatheringStreamTest, AStreamDestroyedWithASendInFlightStopsIt) {
  const std::string payload(8 * 1024 * 1024, 'z');
  auto stream = std::make_unique<GatheringStream<Socket>>(std::move(near_));
  stream->write_some(asio::buffer(payload));
  RunUntil([&] { return stream->buffered() < payload.size(); });
  stream.reset();  // closes the socket beneath the send
  RunUntil([] { return false; });

  // The far end got a prefix of the payload and then the end of the stream.
  std::string received;
  boost::system::error_code ec;
  char chunk[65536];
  while (!ec)
    received.append(chunk, far_.read_some(asio::buffer(chunk), ec));
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_LT(received.size(), payload.size());
  EXPECT_EQ(received, payload.substr(0, received.size()));
}

// Beast's close handshake over the layer: the frames written before the close, and the close
// frame itself, leave before the connection is torn down.
TEST_F(GatheringStreamTest, AWebSocketCloseSendsWhatPrecedesItFirst) {
  websocket::stream<GatheringStream<Socket>> server(GatheringStream<Socket>(std::move(near_)));
  websocket::stream<Socket> client(std::move(far_));
  int open = 0;
  server.async_accept([&](boost::system::error_code ec) {
    ASSERT_FALSE(ec);
    ++open;
  });
  client.async_handshake("localhost", "/", [&](boost::system::error_code ec) {
    ASSERT_FALSE(ec);
    ++open;
  });
  RunUntil([&] { return open == 2; });
  ASSERT_EQ(open, 2);

  server.write(asio::buffer(std::string("last words")));
  boost::system::error_code closed;
  server.async_close(websocket::close_code::going_away,
                     [&](boost::system::error_code ec) { closed = ec; });
  boost::beast::flat_buffer buffer;
  std::string heard;
  boost::system::error_code read_end;
  client.async_read(buffer, [&](boost::system::error_code ec, std::size_t) {
    ASSERT_FALSE(ec);
    heard = boost::beast::buffers_to_string(buffer.data());
    client.async_read(buffer, [&](boost::system::error_code ec, std::size_t) { read_end = ec; });
  });
  RunUntil([] { return false; });

  EXPECT_EQ(heard, "last words");
  EXPECT_EQ(read_end, websocket::error::closed);
  EXPECT_EQ(client.reason().code, websocket::close_code::going_away);
  EXPECT_FALSE(closed);
}

}  // namespace
}  // namespace sb::net
