// Limits against the real binary: send rate limits, the API call limit, frame floods, slow
// consumers, the offline queue quota and the idle timeout (docs/protocol.md section 8).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "harness.h"

namespace sb::itest {
namespace {

using namespace std::chrono_literals;

std::int64_t Int(const json::object& frame, std::string_view key) {
  const json::value* v = frame.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : -1;
}

class LimitsTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    meta_ = Register("Meta World", {"alice"});
    shop_ = Register("Shop", {"bob"});
  }
  Address Alice() const { return meta_.At("alice"); }
  Address Bob() const { return shop_.At("bob"); }

  Platform meta_;
  Platform shop_;
};

class SendRateTest : public LimitsTest {
 protected:
  std::string ConfigToml() const override {
    return "[limits]\naccount_rate = 1\naccount_burst = 2\n";
  }
};

TEST_F(SendRateTest, SendsOverTheAccountRateAreRejectedWithARetryHint) {
  auto alice = Connect(meta_, "alice");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(alice->SendText(Alice(), Bob(), "m" + std::to_string(i)));

  for (int i = 0; i < 2; ++i) {
    auto answer = alice->WaitForAnswer(ids[i]);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(Str(*answer, "type"), "accepted") << json::serialize(*answer);
  }
  auto refused = alice->WaitForAnswer(ids[2]);
  ASSERT_TRUE(IsFrame(refused, "rejected", "rate_limited"));
  EXPECT_GT(Int(*refused, "retry_after_ms"), 0) << json::serialize(*refused);
  EXPECT_LE(Int(*refused, "retry_after_ms"), 1000) << json::serialize(*refused);
  EXPECT_EQ(MetricValue(Metrics(), "switchboard_messages_rejected_total", "code=\"rate_limited\""),
            1);
}

class ApiRateTest : public LimitsTest {
 protected:
  std::string ConfigToml() const override { return "[limits]\napi_rate = 1\napi_burst = 3\n"; }
};

TEST_F(ApiRateTest, PlatformKeyOverItsRateGets429WithRetryAfter) {
  net::HttpClient http("127.0.0.1", exchange().Port());
  const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + meta_.api_key}};
  net::HttpReply reply;
  for (int i = 0; i < 4; ++i)
    reply = http.Request("GET", "/v1/platforms/" + meta_.id, {}, auth);
  EXPECT_EQ(reply.status, 429) << reply.body;
  EXPECT_NE(reply.body.find("\"rate_limited\""), std::string::npos) << reply.body;
  ASSERT_TRUE(reply.headers.contains("retry-after"));
  EXPECT_GE(std::stoi(reply.headers["retry-after"]), 1);

  // Another platform's key, and the operator, are not affected.
  EXPECT_EQ(api().Call("GET", "/v1/platforms/" + shop_.id, shop_.api_key).status, 200);
  EXPECT_EQ(api().Call("GET", "/v1/platforms/" + meta_.id, OperatorToken()).status, 200);
}

class FloodTest : public LimitsTest {
 protected:
  std::string ConfigToml() const override {
    return "[limits]\nconnection_frame_rate = 10\nconnection_frame_burst = 10\n"
           "connection_flood_close = 50\n";
  }
};

TEST_F(FloodTest, ABadFrameFloodIsRefusedThenClosedAndOthersGoOn) {
  auto flooder = Connect(meta_, "alice", "flooder");
  auto bob = Connect(shop_, "bob");
  for (int i = 0; i < 200 && flooder->ws().IsOpen(); ++i) {
    try {
      flooder->SendRaw("not json");
    } catch (const std::exception&) {
      break;  // the exchange closed the connection while we wrote
    }
  }
  auto limited = flooder->WaitFor([](const json::object& f) {
    return Str(f, "type") == "error" && Str(f, "code") == "rate_limited";
  });
  ASSERT_TRUE(limited.has_value());
  EXPECT_GT(Int(*limited, "retry_after_ms"), 0);
  ASSERT_TRUE(flooder->WaitClosed());
  EXPECT_EQ(flooder->ws().CloseCode(), std::optional<std::uint16_t>(1008));
  EXPECT_EQ(MetricValue(Metrics(), "switchboard_flood_disconnects_total"), 1);

  // Another terminal of the same account is served as usual.
  auto alice = Connect(meta_, "alice", "phone");
  json::object accepted = alice->SendAccepted(Alice(), Bob(), "still fine");
  auto message = bob->WaitForType("message");
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(Str(*message, "message_id"), Str(accepted, "message_id"));
}

class SlowConsumerTest : public LimitsTest {
 protected:
  std::string ConfigToml() const override { return "[limits]\nmax_send_queue_bytes = 65536\n"; }
};

TEST_F(SlowConsumerTest, AReaderThatStallsIsDroppedAndGetsEverythingOnReconnect) {
  constexpr int kMaxMessages = 600;
  const std::string big(100 * 1024, 'x');
  auto alice = Connect(meta_, "alice");
  auto bob = Connect(shop_, "bob", "laptop");  // from here on bob reads nothing

  // Send until the exchange gives up on bob: his socket buffers fill, then his send queue.
  std::vector<std::string> accepted;
  while (accepted.size() < kMaxMessages) {
    accepted.push_back(Str(alice->SendAccepted(Alice(), Bob(), big), "message_id"));
    if (accepted.size() % 10 == 0 &&
        MetricValue(Metrics(), "switchboard_slow_consumers_total") >= 1) {
      break;
    }
  }
  ASSERT_EQ(MetricValue(Metrics(), "switchboard_slow_consumers_total"), 1)
      << "bob was never dropped after " << accepted.size() << " messages of 100 KiB";
  auto told = bob->WaitFor([](const json::object& f) { return Str(f, "type") == "error"; }, 30s);
  ASSERT_TRUE(IsFrame(told, "error", "slow_consumer"));
  ASSERT_TRUE(bob->WaitClosed(30s));

  // On reconnect he gets every message, in order, a page at a time as he acks.
  auto again = Connect(shop_, "bob", "laptop");
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    auto message = again->WaitForType("message", 30s);
    ASSERT_TRUE(message.has_value()) << "message " << i << " of " << accepted.size();
    ASSERT_EQ(Str(*message, "message_id"), accepted[i]) << "at " << i;
    again->SendJson(json::object{{"type", "ack"}, {"message_id", accepted[i]}});
  }
  EXPECT_FALSE(again->WaitForType("message", kQuietTimeout).has_value());
  EXPECT_GT(MetricValue(Metrics(), "switchboard_catch_up_pauses_total"), 0);
}

class QuotaTest : public LimitsTest {
 protected:
  std::string ConfigToml() const override { return "[delivery]\naccount_queue_quota = 3\n"; }
};

TEST_F(QuotaTest, AFullOfflineQueueRefusesUntilTheRecipientCatchesUp) {
  auto alice = Connect(meta_, "alice");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(Str(alice->SendAccepted(Alice(), Bob(), "m" + std::to_string(i)), "message_id"));
  const std::string over = alice->SendText(Alice(), Bob(), "one too many");
  EXPECT_TRUE(IsFrame(alice->WaitForAnswer(over), "rejected", "recipient_queue_full"));

  auto bob = Connect(shop_, "bob");
  for (const std::string& id : ids) {
    auto message = bob->WaitForType("message");
    ASSERT_TRUE(message.has_value());
    EXPECT_EQ(Str(*message, "message_id"), id);
    bob->SendJson(json::object{{"type", "ack"}, {"message_id", id}});
  }
  // The `delivered` receipt of an ack goes out as that ack empties its place in the queue.
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(alice->WaitForType("receipt").has_value());
  json::object accepted = alice->SendAccepted(Alice(), Bob(), "room again");
  EXPECT_FALSE(Str(accepted, "message_id").empty());
}

class IdleTimeoutTest : public LimitsTest {
 protected:
  std::string ConfigToml() const override {
    return "[limits]\nidle_timeout_s = 1\nhello_timeout_ms = 60000\n";
  }
};

// A WebSocket opened by hand on a plain socket, which never answers anything (no pong).
class SilentSocket {
 public:
  explicit SilentSocket(std::uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect failed");
    const std::string upgrade =
        "GET /v1/terminal HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    if (write(fd_, upgrade.data(), upgrade.size()) != static_cast<ssize_t>(upgrade.size()))
      throw std::runtime_error("write failed");
  }
  ~SilentSocket() { close(fd_); }

  // Reads (and answers nothing) until the peer closes; false when `timeout` passes first.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return true;
      received_.append(buf, static_cast<std::size_t>(n));
    }
    return false;
  }
  // Whether a WebSocket ping frame (0x89, unmasked from a server) came after the 101 answer.
  bool SawPing() const {
    const auto body = received_.find("\r\n\r\n");
    return body != std::string::npos && received_.find('\x89', body + 4) != std::string::npos;
  }
  const std::string& received() const { return received_; }

 private:
  int fd_;
  std::string received_;
};

TEST_F(IdleTimeoutTest, AClientThatNeverAnswersPingsIsDropped) {
  // A terminal that reads answers the pings (its library does) and stays connected meanwhile.
  auto good = Connect(shop_, "bob");
  std::thread reader([&good] { (void)good->WaitForType("message", 4s); });

  SilentSocket silent(exchange().Port());
  const bool dropped = silent.WaitClosed(15s);
  reader.join();
  ASSERT_TRUE(dropped) << "still open; received " << silent.received().size() << " bytes";
  EXPECT_NE(silent.received().find(" 101 "), std::string::npos);
  EXPECT_TRUE(silent.SawPing());
  EXPECT_TRUE(good->ws().IsOpen());
}

}  // namespace
}  // namespace sb::itest
