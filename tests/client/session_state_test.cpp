#include "client/session_state.h"

#include <gtest/gtest.h>

#include "client/url.h"

namespace sb::client {
namespace {

using std::chrono::milliseconds;

TEST(SessionStateTest, ClientIdsCountUnderThePrefix) {
  SessionState state("abc", 10);
  EXPECT_EQ(state.NextClientId(), "abc-1");
  EXPECT_EQ(state.NextClientId(), "abc-2");
}

TEST(SessionStateTest, SendsAreWrittenOnceThenAgainAfterALostConnection) {
  SessionState state("p", 10);
  state.AddSend({"p-1", {"b1b", "bob"}, "{}"});
  state.AddSend({"p-2", {"b1b", "bob"}, "{}"});
  EXPECT_EQ(state.TakeUnwritten().size(), 2u);
  EXPECT_TRUE(state.TakeUnwritten().empty());

  EXPECT_TRUE(state.OnAnswered("p-1"));
  EXPECT_FALSE(state.OnAnswered("p-1"));  // a second answer, to a re-send
  EXPECT_EQ(state.OnConnectionLost(), 1u);

  state.AddSend({"p-3", {"b1b", "bob"}, "{}"});
  auto again = state.TakeUnwritten();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].client_id, "p-2");
  EXPECT_EQ(again[1].client_id, "p-3");
  EXPECT_EQ(state.PendingCount(), 2u);
}

TEST(SessionStateTest, RepeatedMessagesAreToldApartByAck) {
  SessionState state("p", 10);
  EXPECT_EQ(state.OnMessage("m1"), Arrival::kNew);
  EXPECT_EQ(state.OnMessage("m1"), Arrival::kRepeatUnacked);
  state.MarkAcked("m1");
  EXPECT_EQ(state.OnMessage("m1"), Arrival::kRepeatAcked);
  state.MarkAcked("unknown");  // harmless
  EXPECT_EQ(state.OnMessage("unknown"), Arrival::kNew);
}

TEST(SessionStateTest, TheOldestMessageIdsAreForgottenFirst) {
  SessionState state("p", 2);
  EXPECT_EQ(state.OnMessage("m1"), Arrival::kNew);
  EXPECT_EQ(state.OnMessage("m2"), Arrival::kNew);
  EXPECT_EQ(state.OnMessage("m3"), Arrival::kNew);
  EXPECT_EQ(state.OnMessage("m3"), Arrival::kRepeatUnacked);
  EXPECT_EQ(state.OnMessage("m2"), Arrival::kRepeatUnacked);
  EXPECT_EQ(state.OnMessage("m1"), Arrival::kNew);
}

TEST(BackoffTest, DoublesUpToTheCapWithJitterInTheUpperHalf) {
  double draw = 0.0;
  Backoff backoff(milliseconds(100), milliseconds(1000), [&draw] { return draw; });
  EXPECT_EQ(backoff.Next(), milliseconds(50));
  EXPECT_EQ(backoff.Next(), milliseconds(100));
  EXPECT_EQ(backoff.Next(), milliseconds(200));
  draw = 1.0;
  EXPECT_EQ(backoff.Next(), milliseconds(800));
  EXPECT_EQ(backoff.Next(), milliseconds(1000));
  for (int i = 0; i < 100; ++i)
    EXPECT_LE(backoff.Next(), milliseconds(1000));
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), milliseconds(100));
}

TEST(BackoffTest, JitterSpreadsWithinTheWindow) {
  double draw = 0.5;
  Backoff backoff(milliseconds(400), milliseconds(400), [&draw] { return draw; });
  EXPECT_EQ(backoff.Next(), milliseconds(300));
}

TEST(RandomClientIdPrefixTest, IsTwelveHexDigits) {
  const std::string prefix = RandomClientIdPrefix();
  ASSERT_EQ(prefix.size(), 12u);
  EXPECT_EQ(prefix.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(prefix, RandomClientIdPrefix());
}

TEST(UrlTest, ParsesExchangeAndPlatformUrls) {
  auto ws = ParseUrl("ws://127.0.0.1:8080/v1/terminal");
  ASSERT_TRUE(ws);
  EXPECT_EQ(ws->scheme, "ws");
  EXPECT_EQ(ws->host, "127.0.0.1");
  EXPECT_EQ(ws->port, 8080);
  EXPECT_EQ(ws->path, "/v1/terminal");

  auto http = ParseUrl("http://localhost");
  ASSERT_TRUE(http);
  EXPECT_EQ(http->port, 80);
  EXPECT_EQ(http->path, "/");
  EXPECT_FALSE(UsesTls(*ws));
  EXPECT_FALSE(UsesTls(*http));
}

TEST(UrlTest, ParsesTlsUrlsWithTheirDefaultPort) {
  auto wss = ParseUrl("wss://exchange.example:8443/v1/terminal");
  ASSERT_TRUE(wss);
  EXPECT_EQ(wss->scheme, "wss");
  EXPECT_EQ(wss->port, 8443);
  EXPECT_TRUE(UsesTls(*wss));
  auto https = ParseUrl("https://platform.example");
  ASSERT_TRUE(https);
  EXPECT_EQ(https->port, 443);
  EXPECT_EQ(https->path, "/");
  EXPECT_TRUE(UsesTls(*https));
}

TEST(UrlTest, RefusesWhatTheClientsCannotSpeak) {
  for (const char* text : {"", "localhost:80", "ftp://h:1/", "wss:/h", "ws://:80/", "ws://h:0/",
                           "ws://h:70000/", "ws://h:x/", "ws://[::1]:80/"}) {
    EXPECT_FALSE(ParseUrl(text)) << text;
  }
}

}  // namespace
}  // namespace sb::client
