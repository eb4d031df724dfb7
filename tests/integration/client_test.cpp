// The blocking clients of src/net against the real exchange: keep-alive, reconnection, timeouts and
// closing.
#include <chrono>
#include <stdexcept>

#include "harness.h"

namespace sb::itest {
namespace {

using namespace std::chrono_literals;
using ClientTest = IntegrationTest;

TEST_F(ClientTest, HttpClientReconnectsAfterTheServerClosedTheConnection) {
  net::HttpClient http("127.0.0.1", exchange().Port());

  EXPECT_EQ(http.Request("GET", "/healthz").status, 200);
  // The server closes after answering this one; the next request needs a new connection.
  net::HttpReply closing = http.Request("GET", "/healthz", "", {{"Connection", "close"}});
  EXPECT_EQ(closing.status, 200);
  EXPECT_EQ(http.Request("GET", "/healthz").status, 200);
}

TEST_F(ClientTest, HttpClientReturnsErrorStatusesAndLowerCaseHeaders) {
  net::HttpClient http("127.0.0.1", exchange().Port());

  net::HttpReply reply = http.Request("GET", "/v1/platforms/nosuch");
  EXPECT_EQ(reply.status, 401);
  EXPECT_NE(reply.headers.find("content-type"), reply.headers.end());
  EXPECT_NE(reply.body.find("unauthenticated"), std::string::npos) << reply.body;
}

TEST_F(ClientTest, HttpClientThrowsWhenNothingListens) {
  net::HttpClient http("127.0.0.1", exchange().Port(), 2s);
  EXPECT_EQ(http.Request("GET", "/healthz").status, 200);

  exchange().Kill();
  EXPECT_THROW(http.Request("GET", "/healthz"), std::runtime_error);
}

TEST_F(ClientTest, WsClientReceiveTimesOutAndStaysOpen) {
  Terminal terminal(exchange().Port());

  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(terminal.ws().Receive(200ms).has_value());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(terminal.ws().IsOpen());
  EXPECT_FALSE(terminal.ws().CloseCode().has_value());
}

TEST_F(ClientTest, WsClientConnectThrowsOnAnotherPathOrPort) {
  net::WsClient ws(2s);
  EXPECT_THROW(ws.Connect("127.0.0.1", exchange().Port(), "/not-a-terminal"), std::runtime_error);
  EXPECT_FALSE(ws.IsOpen());

  const std::uint16_t port = exchange().Port();
  exchange().Kill();
  EXPECT_THROW(ws.Connect("127.0.0.1", port, "/v1/terminal"), std::runtime_error);
}

TEST_F(ClientTest, WsClientCloseEndsTheConnectionAndSendThenThrows) {
  Platform p = Register("Alpha", {"alice"});
  auto alice = Connect(p, "alice");

  alice->ws().Close();
  EXPECT_FALSE(alice->ws().IsOpen());
  EXPECT_FALSE(alice->ws().Receive(0ms).has_value());
  EXPECT_THROW(alice->ws().Send("{}"), std::runtime_error);

  // The same client can connect again.
  alice->ws().Connect("127.0.0.1", exchange().Port(), "/v1/terminal");
  EXPECT_NO_THROW(alice->Hello(p.Token("alice"), "device-1"));
}

}  // namespace
}  // namespace sb::itest
