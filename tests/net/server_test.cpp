// The server and the event loop, driven over real sockets on 127.0.0.1 by a Beast client.
//
// The server's loop runs on its own thread; the client runs its io_context on a second thread and
// the test waits on futures, each bounded by kTimeout, so a broken server fails a test instead of
// hanging it.
#include "net/server.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "net/event_loop.h"

namespace sb::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kTimeout = 5s;
constexpr std::size_t kMaxFrame = 1024;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
constexpr bool kSanitized = __has_feature(address_sanitizer);
#else
constexpr bool kSanitized = false;
#endif

// Waits for `future`. On timeout, runs `abandon` (which must make the operation behind the future
// finish, e.g. by closing its socket), waits for that, and throws.
template <typename T>
T Await(std::future<T> future, const std::function<void()>& abandon = {}) {
  if (future.wait_for(kTimeout) != std::future_status::ready) {
    if (abandon) {
      abandon();
      future.wait();
    }
    throw std::runtime_error("timed out");
  }
  return future.get();
}

// Runs `fn` on the loop's thread and returns what it returns (or rethrows what it throws).
template <typename Fn>
std::invoke_result_t<Fn> OnLoop(EventLoop& loop, Fn fn) {
  using Result = std::invoke_result_t<Fn>;
  auto task = std::make_shared<std::packaged_task<Result()>>(std::move(fn));
  auto future = task->get_future();
  loop.Post([task] { (*task)(); });
  return Await(std::move(future));
}

// A loop running on its own thread for the length of a test.
class LoopThread {
 public:
  LoopThread() : thread_([this] { loop_.Run(); }) {}
  ~LoopThread() {
    loop_.Stop();
    thread_.join();
  }
  EventLoop& loop() { return loop_; }

 private:
  EventLoop loop_;
  std::thread thread_;
};

std::string Describe(const HttpRequest& request) {
  return request.method + " " + request.path + "?" + request.query + " " +
         std::string(request.Header("x-custom")) + " " + request.body;
}

HttpResponse EchoResponse(const HttpRequest& request) {
  HttpResponse response;
  response.status = 201;
  response.content_type = "text/plain";
  response.headers["X-Answer"] = "yes";
  response.body = Describe(request);
  return response;
}

// Records what the server hands over and answers in ways the tests choose by path or text. Runs
// on the loop thread; tests read it through OnLoop.
class TestHandler : public Handler {
 public:
  explicit TestHandler(EventLoop& loop) : loop_(loop) {}

  void OnHttp(HttpRequest request, Respond respond) override {
    requests.push_back(request);
    if (request.path == "/hold") {
      held = std::move(respond);
      held_signal.set_value();
      return;
    }
    if (request.path == "/drop") return;
    if (request.path == "/fast") {
      respond(EchoResponse(request));
      return;
    }
    // Answer later from a timer, as a handler that waits for a disk commit does.
    auto delay = request.path == "/slow" ? 50ms : 10ms;
    timers_.push_back(
        loop_.Schedule(delay, [request, respond] { respond(EchoResponse(request)); }));
  }

  void OnWsOpen(const std::shared_ptr<WsConnection>& conn) override { connections.push_back(conn); }

  void OnWsText(const std::shared_ptr<WsConnection>& conn, std::string_view text) override {
    if (text == "close-me") {
      conn->Send("bye");
      conn->Close(4001, "asked to");
      return;
    }
    if (text == "queue-two") {
      conn->Send("one");
      conn->Send("two!");
      queued_after_two = conn->QueuedBytes();
      return;
    }
    conn->Send("echo:" + std::string(text));
  }

  void OnWsRefused(const std::shared_ptr<WsConnection>& conn, WsRefusal why) override {
    refusals.push_back(why);
    conn->Send(why == WsRefusal::kBinary ? "refused:binary" : "refused:too_large");
  }

  void OnWsClose(const std::shared_ptr<WsConnection>& conn) override {
    if (closes[conn->id()]++ == 0 && closes.size() == 1) {
      first_close.set_value(conn->id());
    }
  }

  // Drops what refers to the loop; call on the loop thread before it stops.
  void Reset() {
    timers_.clear();
    connections.clear();
    held = nullptr;
  }

  std::vector<HttpRequest> requests;
  Respond held;
  std::vector<std::shared_ptr<WsConnection>> connections;
  std::vector<WsRefusal> refusals;
  std::map<std::uint64_t, int> closes;
  std::size_t queued_after_two = 0;

  // Set on the loop thread. Their futures are taken up front, so the test thread never touches
  // the promises themselves.
  std::promise<void> held_signal;
  std::promise<std::uint64_t> first_close;
  std::future<void> held_future = held_signal.get_future();
  std::future<std::uint64_t> first_close_future = first_close.get_future();

 private:
  EventLoop& loop_;
  std::vector<std::unique_ptr<Timer>> timers_;
};

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using WsStream = websocket::stream<tcp::socket>;

// The completion token of the client's operations: a future, completed on the client's own thread.
// Plain use_future completes on the system executor's threads, where the operation (and with it
// the last reference to a WebSocket stream) could still be destroyed while the fixture destroys
// client_io_.
template <typename Stream>
auto OnClientThread(Stream& stream) {
  return asio::bind_executor(stream.get_executor(), asio::use_future);
}

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() : client_thread_([this] { client_io_.run(); }) {
    options_.port = 0;
    options_.max_frame_bytes = kMaxFrame;
    options_.max_body_bytes = 1024;
    options_.max_header_bytes = 2048;
  }

  ~ServerTest() override {
    OnLoop(loop(), [this] {
      server_.reset();
      handler_.Reset();
    });
    client_work_.reset();
    client_thread_.join();
  }

  EventLoop& loop() { return loop_thread_.loop(); }

  void Serve() {
    server_ = OnLoop(loop(), [this] {
      auto server = std::make_unique<Server>(loop(), options_, handler_);
      server->Start();
      return server;
    });
  }

  std::size_t ConnectionCount() {
    return OnLoop(loop(), [this] { return server_->ConnectionCount(); });
  }

  tcp::socket Connect() {
    tcp::socket socket(client_io_);
    socket.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    return socket;
  }

  static void Write(tcp::socket& socket, Request& request) {
    request.prepare_payload();
    Await(http::async_write(socket, request, OnClientThread(socket)), [&] { socket.close(); });
  }

  static void WriteRaw(tcp::socket& socket, const std::string& bytes) {
    Await(asio::async_write(socket, asio::buffer(bytes), OnClientThread(socket)),
          [&] { socket.close(); });
  }

  static Response Read(tcp::socket& socket, beast::flat_buffer& buffer) {
    Response response;
    Await(http::async_read(socket, buffer, response, OnClientThread(socket)),
          [&] { socket.close(); });
    return response;
  }

  // The error that ends the next read: the server closed the connection.
  static boost::system::error_code ReadUntilClosed(tcp::socket& socket) {
    char byte;
    try {
      Await(socket.async_read_some(asio::buffer(&byte, 1), OnClientThread(socket)),
            [&] { socket.close(); });
    } catch (const boost::system::system_error& e) {
      return e.code();
    }
    return {};
  }

  // Opens a WebSocket and makes one round trip, after which the handler has seen OnWsOpen (the
  // handshake's answer alone may reach the client before that).
  std::unique_ptr<WsStream> OpenWs() {
    auto ws = std::make_unique<WsStream>(Connect());
    Await(ws->async_handshake("127.0.0.1", options_.websocket_path, OnClientThread(*ws)),
          [&] { ws->next_layer().close(); });
    WsWrite(*ws, "sync");
    EXPECT_EQ(WsRead(*ws), "echo:sync");
    return ws;
  }

  static void WsWrite(WsStream& ws, const std::string& data, bool binary = false) {
    ws.binary(binary);
    Await(ws.async_write(asio::buffer(data), OnClientThread(ws)), [&] { ws.next_layer().close(); });
  }

  static std::string WsRead(WsStream& ws) {
    beast::flat_buffer buffer;
    Await(ws.async_read(buffer, OnClientThread(ws)), [&] { ws.next_layer().close(); });
    return beast::buffers_to_string(buffer.data());
  }

  // Reads until the server's close frame arrives, and returns its reason.
  static websocket::close_reason WsReadClose(WsStream& ws) {
    try {
      auto unexpected = WsRead(ws);
      ADD_FAILURE() << "expected a close frame, got a message: " << unexpected;
    } catch (const boost::system::system_error& e) {
      EXPECT_EQ(e.code(), websocket::error::closed) << e.code().message();
    }
    return ws.reason();
  }

  LoopThread loop_thread_;
  TestHandler handler_{loop()};
  ServerOptions options_;
  std::unique_ptr<Server> server_;

  asio::io_context client_io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> client_work_{
      client_io_.get_executor()};
  std::thread client_thread_;
};

// HTTP

TEST_F(ServerTest, AnswersARequestAfterADelayedRespond) {
  Serve();
  auto socket = Connect();
  beast::flat_buffer buffer;

  Request request{http::verb::post, "/v1/things?limit=3", 11};
  request.set(http::field::host, "127.0.0.1");
  request.set("X-Custom", "Value");
  request.body() = "hello";
  Write(socket, request);
  auto response = Read(socket, buffer);

  EXPECT_EQ(response.result_int(), 201);
  EXPECT_EQ(response.body(), "POST /v1/things?limit=3 Value hello");
  EXPECT_EQ(response[http::field::server], "switchboard");
  EXPECT_EQ(response[http::field::content_type], "text/plain");
  EXPECT_EQ(response[http::field::content_length], "35");
  EXPECT_EQ(response["X-Answer"], "yes");
  auto remote = OnLoop(loop(), [this] { return handler_.requests.at(0).remote; });
  EXPECT_EQ(remote.rfind("127.0.0.1:", 0), 0u) << remote;
}

TEST_F(ServerTest, KeepAliveAnswersPipelinedRequestsInOrder) {
  Serve();
  auto socket = Connect();
  beast::flat_buffer buffer;

  // The first is answered late and the second at once: the answers must still keep their order.
  Request slow{http::verb::get, "/slow", 11};
  Request fast{http::verb::get, "/fast", 11};
  Write(socket, slow);
  Write(socket, fast);
  auto first = Read(socket, buffer);
  auto second = Read(socket, buffer);

  EXPECT_EQ(first.body(), "GET /slow?  ");
  EXPECT_EQ(second.body(), "GET /fast?  ");
  EXPECT_TRUE(first.keep_alive());
  auto remotes = OnLoop(loop(), [this] {
    return std::make_pair(handler_.requests.at(0).remote, handler_.requests.at(1).remote);
  });
  EXPECT_EQ(remotes.first, remotes.second) << "both requests came on one connection";
}

TEST_F(ServerTest, OversizedBodyGets413AndTheConnectionCloses) {
  Serve();
  auto socket = Connect();
  beast::flat_buffer buffer;

  Request request{http::verb::post, "/upload", 11};
  request.body() = std::string(4 * options_.max_body_bytes, 'x');
  Write(socket, request);
  auto response = Read(socket, buffer);

  EXPECT_EQ(response.result_int(), 413);
  EXPECT_NE(response.body().find(R"("code":"too_large")"), std::string::npos) << response.body();
  EXPECT_EQ(ReadUntilClosed(socket), asio::error::eof);
  EXPECT_EQ(OnLoop(loop(), [this] { return handler_.requests.size(); }), 0u);
}

TEST_F(ServerTest, OversizedHeaderGets431) {
  Serve();
  auto socket = Connect();
  beast::flat_buffer buffer;

  Request request{http::verb::get, "/", 11};
  request.set("X-Big", std::string(2 * options_.max_header_bytes, 'h'));
  Write(socket, request);
  auto response = Read(socket, buffer);

  EXPECT_EQ(response.result_int(), 431);
  EXPECT_NE(response.body().find(R"("code":"too_large")"), std::string::npos) << response.body();
}

TEST_F(ServerTest, MalformedRequestGets400AndTheConnectionCloses) {
  Serve();
  auto socket = Connect();
  beast::flat_buffer buffer;

  WriteRaw(socket, "GET / HTTP/one-point-one\r\n\r\n");
  auto response = Read(socket, buffer);

  EXPECT_EQ(response.result_int(), 400);
  EXPECT_NE(response.body().find(R"("code":"bad_request")"), std::string::npos) << response.body();
  EXPECT_EQ(ReadUntilClosed(socket), asio::error::eof);
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimAnswerBeforeTheBody) {
  Serve();
  auto socket = Connect();
  beast::flat_buffer buffer;

  WriteRaw(socket,
           "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           "Expect: 100-continue\r\n\r\n");
  auto interim = Read(socket, buffer);
  WriteRaw(socket, "hello");
  auto response = Read(socket, buffer);

  EXPECT_EQ(interim.result_int(), 100);
  EXPECT_EQ(response.result_int(), 201);
  EXPECT_EQ(response.body(), "POST /upload?  hello");
}

TEST_F(ServerTest, RequestDroppedByTheHandlerGets503) {
  Serve();
  auto socket = Connect();
  beast::flat_buffer buffer;

  Request request{http::verb::get, "/drop", 11};
  Write(socket, request);
  auto response = Read(socket, buffer);

  EXPECT_EQ(response.result_int(), 503);
  EXPECT_NE(response.body().find(R"("code":"unavailable")"), std::string::npos) << response.body();
}

TEST_F(ServerTest, RespondAfterTheServerIsGoneIsDropped) {
  Serve();
  auto socket = Connect();
  Request request{http::verb::get, "/hold", 11};
  Write(socket, request);
  Await(std::move(handler_.held_future));

  OnLoop(loop(), [this] { server_.reset(); });
  auto closed_with = ReadUntilClosed(socket);
  OnLoop(loop(), [this] { handler_.held(EchoResponse(handler_.requests.at(0))); });

  EXPECT_TRUE(closed_with == asio::error::eof || closed_with == asio::error::connection_reset)
      << "the client got no answer: " << closed_with.message();
}

TEST_F(ServerTest, IdleHttpConnectionIsClosed) {
  options_.http_idle_timeout = 1s;
  Serve();
  auto socket = Connect();

  EXPECT_EQ(ReadUntilClosed(socket), asio::error::eof);
}

TEST_F(ServerTest, BindingAnOccupiedPortThrows) {
  Serve();
  auto taken = options_;
  taken.port = server_->port();

  EXPECT_THROW(OnLoop(loop(), [&] { Server second(loop(), taken, handler_); }), std::runtime_error);
}

TEST_F(ServerTest, UpgradeOnAnotherPathGets404) {
  Serve();
  WsStream ws(Connect());
  websocket::response_type response;

  EXPECT_THROW(Await(ws.async_handshake(response, "127.0.0.1", "/elsewhere", OnClientThread(ws)),
                     [&] { ws.next_layer().close(); }),
               boost::system::system_error);
  EXPECT_EQ(response.result_int(), 404);
  EXPECT_NE(response.body().find(R"("code":"not_found")"), std::string::npos) << response.body();
  EXPECT_EQ(OnLoop(loop(), [this] { return handler_.requests.size(); }), 0u);
}

TEST_F(ServerTest, PlainGetOnTheWebSocketPathGoesToTheHandler) {
  Serve();
  auto socket = Connect();
  beast::flat_buffer buffer;

  Request request{http::verb::get, options_.websocket_path, 11};
  Write(socket, request);
  auto response = Read(socket, buffer);

  EXPECT_EQ(response.result_int(), 201);
  EXPECT_EQ(response.body(), "GET " + options_.websocket_path + "?  ");
}

// Lowers the process's limit of open files for its lifetime.
class FileLimit {
 public:
  explicit FileLimit(rlim_t soft) {
    getrlimit(RLIMIT_NOFILE, &original_);
    rlimit lowered = original_;
    lowered.rlim_cur = soft;
    setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~FileLimit() { setrlimit(RLIMIT_NOFILE, &original_); }
  FileLimit(const FileLimit&) = delete;
  FileLimit& operator=(const FileLimit&) = delete;

 private:
  rlimit original_{};
};

std::size_t OpenFileCount() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

TEST_F(ServerTest, AcceptResumesAfterRunningOutOfFiles) {
  if (kSanitized) {
    // The sanitizer runtime opens files of its own while it checks, and reports a false error
    // when it cannot.
    GTEST_SKIP() << "runs out of files on purpose, which the sanitizer runtime cannot bear";
  }
  Serve();
  const tcp::endpoint endpoint{asio::ip::make_address("127.0.0.1"), server_->port()};
  std::vector<tcp::socket> clients;
  {
    // Hold the loop while the client takes every file the process may open: the connections
    // wait in the backlog, and the server then finds no file to accept them with.
    std::promise<void> release;
    std::promise<void> holding;
    loop().Post([&holding, released = release.get_future().share()] {
      holding.set_value();
      released.wait();
    });
    Await(holding.get_future());
    FileLimit limit(OpenFileCount() + 8);
    for (;;) {
      tcp::socket client(client_io_);
      boost::system::error_code ec;
      client.open(tcp::v4(), ec);
      if (ec) break;
      client.connect(endpoint, ec);
      ASSERT_FALSE(ec) << ec.message();
      clients.push_back(std::move(client));
    }
    release.set_value();
    // Two loop turns: the accept has met the limit and the server is backing off.
    OnLoop(loop(), [] {});
    OnLoop(loop(), [] {});
  }
  ASSERT_GE(clients.size(), 2u);

  // With files available again, the last connection in the backlog is served too.
  beast::flat_buffer buffer;
  Request request{http::verb::get, "/fast", 11};
  Write(clients.back(), request);
  EXPECT_EQ(Read(clients.back(), buffer).result_int(), 201);
  EXPECT_EQ(ConnectionCount(), clients.size());
}

// WebSocket

TEST_F(ServerTest, WebSocketTextRoundTrip) {
  Serve();
  auto ws = OpenWs();

  WsWrite(*ws, "hello");

  EXPECT_EQ(WsRead(*ws), "echo:hello");
  EXPECT_EQ(ConnectionCount(), 1u);
  auto remote = OnLoop(loop(), [this] { return handler_.connections.at(0)->remote(); });
  EXPECT_EQ(remote.rfind("127.0.0.1:", 0), 0u) << remote;
}

TEST_F(ServerTest, QueuedBytesCountsWhatIsNotYetWritten) {
  Serve();
  auto ws = OpenWs();

  WsWrite(*ws, "queue-two");

  EXPECT_EQ(WsRead(*ws), "one");
  EXPECT_EQ(WsRead(*ws), "two!");
  // Both were queued in one loop turn, so neither had been written yet: 7 bytes of text, each in
  // a frame with a 2-byte header.
  EXPECT_EQ(OnLoop(loop(), [this] { return handler_.queued_after_two; }), 11u);
}

TEST_F(ServerTest, BinaryMessageIsRefusedAndTheConnectionStaysOpen) {
  Serve();
  auto ws = OpenWs();

  WsWrite(*ws, std::string("\x01\x02\x03", 3), true);
  auto refusal = WsRead(*ws);
  WsWrite(*ws, "after");

  EXPECT_EQ(refusal, "refused:binary");
  EXPECT_EQ(WsRead(*ws), "echo:after");
  auto refusals = OnLoop(loop(), [this] { return handler_.refusals; });
  EXPECT_EQ(refusals, std::vector<WsRefusal>{WsRefusal::kBinary});
}

TEST_F(ServerTest, OversizedMessageIsRefusedAndTheConnectionStaysOpen) {
  Serve();
  auto ws = OpenWs();

  WsWrite(*ws, std::string(5 * kMaxFrame, 'a'));
  auto refusal = WsRead(*ws);
  WsWrite(*ws, std::string(kMaxFrame, 'b'));

  EXPECT_EQ(refusal, "refused:too_large");
  EXPECT_EQ(WsRead(*ws), "echo:" + std::string(kMaxFrame, 'b')) << "exactly the limit passes";
  auto refusals = OnLoop(loop(), [this] { return handler_.refusals; });
  EXPECT_EQ(refusals, std::vector<WsRefusal>{WsRefusal::kTooLarge});
}

TEST_F(ServerTest, MessageOverTheHardCapClosesWith1009) {
  Serve();
  auto ws = OpenWs();

  WsWrite(*ws, std::string(16 * kMaxFrame + 1, 'a'));
  auto reason = WsReadClose(*ws);

  EXPECT_EQ(reason.code, websocket::close_code::too_big);
  EXPECT_EQ(Await(std::move(handler_.first_close_future)),
            OnLoop(loop(), [this] { return handler_.connections.at(0)->id(); }));
}

TEST_F(ServerTest, ServerCloseSendsQueuedMessagesThenTheCloseCode) {
  Serve();
  auto ws = OpenWs();

  WsWrite(*ws, "close-me");

  EXPECT_EQ(WsRead(*ws), "bye");
  auto reason = WsReadClose(*ws);
  EXPECT_EQ(reason.code, 4001);
  EXPECT_EQ(std::string(reason.reason.data(), reason.reason.size()), "asked to");
}

TEST_F(ServerTest, OnWsCloseIsCalledOnceWhenTheClientCloses) {
  Serve();
  auto ws = OpenWs();

  Await(ws->async_close(websocket::close_code::normal, OnClientThread(*ws)));
  auto closed_id = Await(std::move(handler_.first_close_future));

  // OnWsClose and the count's update happen in one loop turn, before this one.
  auto [opened_id, count] = OnLoop(loop(), [this] {
    return std::make_pair(handler_.connections.at(0)->id(), server_->ConnectionCount());
  });
  EXPECT_EQ(closed_id, opened_id);
  EXPECT_EQ(count, 0u);
  // Destroying the server must not report the connection a second time.
  auto closes = OnLoop(loop(), [this] {
    server_.reset();
    return handler_.closes;
  });
  EXPECT_EQ(closes, (std::map<std::uint64_t, int>{{closed_id, 1}}));
}

TEST_F(ServerTest, OnWsCloseIsCalledOnceWhenTheClientDropsTheSocket) {
  Serve();
  auto ws = OpenWs();
  auto opened_id = OnLoop(loop(), [this] { return handler_.connections.at(0)->id(); });

  ws->next_layer().close();
  auto closed_id = Await(std::move(handler_.first_close_future));

  EXPECT_EQ(closed_id, opened_id);
  auto closes = OnLoop(loop(), [this] {
    server_.reset();
    return handler_.closes;
  });
  EXPECT_EQ(closes, (std::map<std::uint64_t, int>{{closed_id, 1}}));
}

TEST_F(ServerTest, ShutdownClosesWebSocketsWithGoingAway) {
  Serve();
  auto ws = OpenWs();
  auto socket = Connect();
  beast::flat_buffer buffer;
  Request request{http::verb::get, "/fast", 11};
  Write(socket, request);
  EXPECT_EQ(Read(socket, buffer).result_int(), 201);
  EXPECT_EQ(ConnectionCount(), 2u);

  OnLoop(loop(), [this] { server_->Shutdown(); });

  EXPECT_EQ(WsReadClose(*ws).code, websocket::close_code::going_away);
  EXPECT_EQ(ReadUntilClosed(socket), asio::error::eof);
  Await(std::move(handler_.first_close_future));
}

TEST_F(ServerTest, ConnectionIdsAreUnique) {
  Serve();
  auto first = OpenWs();
  auto second = OpenWs();

  auto ids = OnLoop(loop(), [this] {
    return std::make_pair(handler_.connections.at(0)->id(), handler_.connections.at(1)->id());
  });
  EXPECT_NE(ids.first, ids.second);
}

// EventLoop

class EventLoopTest : public ::testing::Test {
 protected:
  EventLoop& loop() { return loop_thread_.loop(); }

  LoopThread loop_thread_;
};

TEST_F(EventLoopTest, PostRunsOnTheLoopThread) {
  auto here = std::this_thread::get_id();
  auto there = OnLoop(loop(), [] { return std::this_thread::get_id(); });
  EXPECT_NE(here, there);
}

TEST_F(EventLoopTest, OneShotTimerFiresOnce) {
  int fired = 0;
  std::promise<int> after_probe;
  std::unique_ptr<Timer> timer, probe;
  OnLoop(loop(), [&] {
    timer = loop().Schedule(5ms, [&] { ++fired; });
    probe = loop().Schedule(60ms, [&] { after_probe.set_value(fired); });
  });

  EXPECT_EQ(Await(after_probe.get_future()), 1);
  OnLoop(loop(), [&] {
    timer.reset();
    probe.reset();
  });
}

TEST_F(EventLoopTest, RepeatingTimerFiresUntilCancelledFromItsCallback) {
  int fired = 0;
  std::promise<void> third;
  std::promise<int> after_probe;
  std::unique_ptr<Timer> timer, probe;
  OnLoop(loop(), [&] {
    timer = loop().Schedule(
        5ms,
        [&] {
          if (++fired == 3) {
            timer->Cancel();
            third.set_value();
          }
        },
        true);
  });

  Await(third.get_future());
  OnLoop(loop(), [&] { probe = loop().Schedule(40ms, [&] { after_probe.set_value(fired); }); });

  EXPECT_EQ(Await(after_probe.get_future()), 3);
  OnLoop(loop(), [&] {
    timer.reset();
    probe.reset();
  });
}

TEST_F(EventLoopTest, CancelPreventsTheCallback) {
  bool fired = false;
  std::promise<bool> after_probe;
  std::unique_ptr<Timer> timer, probe;
  OnLoop(loop(), [&] {
    timer = loop().Schedule(5ms, [&] { fired = true; });
    probe = loop().Schedule(40ms, [&] { after_probe.set_value(fired); });
    timer->Cancel();
  });

  EXPECT_FALSE(Await(after_probe.get_future()));
  OnLoop(loop(), [&] {
    timer.reset();
    probe.reset();
  });
}

TEST_F(EventLoopTest, DestroyingTheHandlePreventsTheCallback) {
  bool fired = false;
  std::promise<bool> after_probe;
  std::unique_ptr<Timer> probe;
  OnLoop(loop(), [&] {
    loop().Schedule(5ms, [&] { fired = true; }).reset();
    probe = loop().Schedule(40ms, [&] { after_probe.set_value(fired); });
  });

  EXPECT_FALSE(Await(after_probe.get_future()));
  OnLoop(loop(), [&] { probe.reset(); });
}

TEST_F(EventLoopTest, TerminationSignalReachesTheCallback) {
  std::promise<int> received;
  OnLoop(loop(),
         [&] { loop().OnTerminationSignal([&](int signo) { received.set_value(signo); }); });

  std::raise(SIGTERM);

  EXPECT_EQ(Await(received.get_future()), SIGTERM);
}

TEST_F(ServerTest, UpgradeWithAnotherVersionGets426) {
  Serve();
  auto socket = Connect();
  beast::flat_buffer buffer;

  WriteRaw(socket,
           "GET " + options_.websocket_path +
               " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  auto response = Read(socket, buffer);

  EXPECT_EQ(response.result_int(), 426);
  EXPECT_EQ(response[http::field::sec_websocket_version], "13");
  EXPECT_EQ(OnLoop(loop(), [this] { return handler_.connections.size(); }), 0u);
}

TEST_F(ServerTest, UnmaskedClientFrameClosesWith1002) {
  Serve();
  auto ws = OpenWs();

  // A text frame "hi" without the mask bit, written under the client's WebSocket layer.
  WriteRaw(ws->next_layer(), std::string("\x81\x02hi", 4));
  auto reason = WsReadClose(*ws);

  EXPECT_EQ(reason.code, websocket::close_code::protocol_error);
}

TEST_F(ServerTest, MessagesQueuedTogetherArriveInOrder) {
  Serve();
  auto ws = OpenWs();
  auto conn = OnLoop(loop(), [this] { return handler_.connections.at(0); });

  OnLoop(loop(), [&] {
    for (int i = 0; i < 50; ++i)
      conn->Send("m" + std::to_string(i));
    return 0;
  });

  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(WsRead(*ws), "m" + std::to_string(i));
  }
  EXPECT_EQ(OnLoop(loop(), [&] { return conn->QueuedBytes(); }), 0u);
}

TEST_F(ServerTest, SilenceEarnsAKeepAlivePingWhichAPongAnswers) {
  options_.ws_idle_timeout = 1s;
  Serve();
  auto ws = OpenWs();
  std::promise<void> pinged;
  bool seen = false;
  ws->control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping && !seen) {
      seen = true;
      pinged.set_value();
    }
  });

  // The pending read answers the ping with a pong, as any client library does.
  beast::flat_buffer buffer;
  auto read = ws->async_read(buffer, OnClientThread(*ws));
  Await(pinged.get_future(), [&] { ws->next_layer().close(); });

  auto conn = OnLoop(loop(), [this] { return handler_.connections.at(0); });
  EXPECT_TRUE(OnLoop(loop(), [&] { return conn->IsOpen(); }));
  ws->next_layer().close();
  EXPECT_THROW(read.get(), boost::system::system_error);
}

// Several client messages in one TCP segment: Beast reads them into its own buffer together, and
// each must still be handed over without more bytes arriving.
TEST_F(ServerTest, MessagesArrivingTogetherAreEachHandedOver) {
  Serve();
  auto ws = OpenWs();

  // Masked text frames "a", "b" and "c" with an all-zero mask, so the payload stays readable.
  std::string frames;
  for (char text : {'a', 'b', 'c'}) {
    frames += std::string("\x81\x81\x00\x00\x00\x00", 6) + text;
  }
  WriteRaw(ws->next_layer(), frames);

  EXPECT_EQ(WsRead(*ws), "echo:a");
  EXPECT_EQ(WsRead(*ws), "echo:b");
  EXPECT_EQ(WsRead(*ws), "echo:c");
}

// One client frame with an all-zero mask, so the payload goes as it is; up to 64 KiB.
std::string MaskedFrame(std::uint8_t first_byte, const std::string& payload) {
  std::string frame(1, static_cast<char>(first_byte));
  if (payload.size() < 126) {
    frame += static_cast<char>(0x80 | payload.size());
  } else {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>(payload.size() >> 8);
    frame += static_cast<char>(payload.size() & 0xFF);
  }
  return frame + std::string(4, '\0') + payload;
}

TEST_F(ServerTest, AMessageInFragmentsIsHandedOverWhole) {
  Serve();
  auto ws = OpenWs();

  // Text, continuation, continuation with FIN; then one over several reads, in three frames.
  WriteRaw(ws->next_layer(),
           MaskedFrame(0x01, "hel") + MaskedFrame(0x00, "lo ") + MaskedFrame(0x80, "world"));
  const std::string big(kMaxFrame / 4, 'x');  // with "y" and "z", under the limit
  WriteRaw(ws->next_layer(),
           MaskedFrame(0x01, big) + MaskedFrame(0x00, big + "y") + MaskedFrame(0x80, big + "z"));

  EXPECT_EQ(WsRead(*ws), "echo:hello world");
  EXPECT_EQ(WsRead(*ws), "echo:" + big + big + "y" + big + "z");
}

TEST(EventLoop, StopEndsRun) {
  EventLoop loop;
  auto run = std::async(std::launch::async, [&] { loop.Run(); });

  loop.Stop();

  EXPECT_EQ(run.wait_for(kTimeout), std::future_status::ready);
}

}  // namespace
}  // namespace sb::net
