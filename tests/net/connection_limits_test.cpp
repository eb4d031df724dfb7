// The listener's bounds on open connections: per source address (429 rate_limited, before any
// WebSocket upgrade) and in all (closed on accept), and the counters that report them.
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/client.h"
#include "net/server.h"
#include "net_fixture.h"

namespace sb::net {
namespace {

using testing::ServerThread;

ServerOptions PerAddress(std::size_t most) {
  ServerOptions options;
  options.max_connections_per_address = most;
  return options;
}

TEST(ConnectionLimitsTest, AConnectionOverThePerAddressBoundIsAnswered429) {
  ServerThread server(PerAddress(2));
  HttpClient first("127.0.0.1", server.port());
  HttpClient second("127.0.0.1", server.port());
  ASSERT_EQ(first.Request("GET", "/a").status, 200);
  ASSERT_EQ(second.Request("GET", "/b").status, 200);

  HttpClient third("127.0.0.1", server.port());
  auto reply = third.Request("GET", "/c");
  EXPECT_EQ(reply.status, 429);
  EXPECT_NE(reply.body.find(R"("code":"rate_limited")"), std::string::npos) << reply.body;
  EXPECT_EQ(server.OnLoop([&] { return server.server().stats().refused_per_address.load(); }), 1u);
}

TEST(ConnectionLimitsTest, AWebSocketOverThePerAddressBoundIsRefusedBeforeTheUpgrade) {
  ServerThread server(PerAddress(1));
  HttpClient holder("127.0.0.1", server.port());
  ASSERT_EQ(holder.Request("GET", "/").status, 200);

  WsClient ws;
  EXPECT_THROW(ws.Connect("127.0.0.1", server.port(), "/v1/terminal"), std::runtime_error);
  EXPECT_FALSE(ws.IsOpen());
  EXPECT_EQ(server.OnLoop([&] { return server.server().stats().refused_per_address.load(); }), 1u);
}

TEST(ConnectionLimitsTest, APlaceIsGivenBackWhenItsConnectionCloses) {
  ServerThread server(PerAddress(1));
  {
    WsClient ws;
    ws.Connect("127.0.0.1", server.port(), "/v1/terminal");
    ws.Send("ping");
    ASSERT_EQ(ws.Receive(std::chrono::seconds(10)), std::optional<std::string>("ping"));
    ws.Close();
  }
  ASSERT_TRUE(server.WaitForConnections(0));

  HttpClient next("127.0.0.1", server.port());
  EXPECT_EQ(next.Request("GET", "/").status, 200);
}

TEST(ConnectionLimitsTest, ConnectionsOverTheTotalBoundAreClosedOnAccept) {
  ServerOptions options;
  options.max_connections = 1;
  ServerThread server(options);
  HttpClient first("127.0.0.1", server.port());
  ASSERT_EQ(first.Request("GET", "/").status, 200);

  HttpClient second("127.0.0.1", server.port());
  EXPECT_THROW(second.Request("GET", "/"), std::runtime_error);
  EXPECT_EQ(server.OnLoop([&] { return server.server().stats().refused_total.load(); }), 1u);
  EXPECT_GE(server.OnLoop([&] { return server.server().stats().accepted.load(); }), 2u);
}

TEST(ConnectionLimitsTest, ZeroMeansNoBound) {
  ServerOptions options;
  options.max_connections_per_address = 0;
  options.max_connections = 0;
  ServerThread server(options);
  std::vector<HttpClient> clients;
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back("127.0.0.1", server.port());
    ASSERT_EQ(clients.back().Request("GET", "/").status, 200) << i;
  }
}

}  // namespace
}  // namespace sb::net
