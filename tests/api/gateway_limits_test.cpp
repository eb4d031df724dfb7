// The terminal gateway's frame limit: frames over a connection's rate are answered `rate_limited`
// with a retry hint (a send by its id), and a continued flood closes the connection.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/terminal_gateway.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_loop.h"

namespace sb::api {
namespace {

namespace json = boost::json;
using sb::testing::TempDir;
using sb::testing::TestLoop;

// A WebSocket connection that records what the gateway writes to it.
class FakeConnection : public net::WsConnection {
 public:
  std::uint64_t id() const override { return 7; }
  const std::string& remote() const override { return remote_; }
  void Send(std::string_view text) override { sent.push_back(json::parse(text).as_object()); }
  void Close(std::uint16_t code, std::string) override { close_code = code; }
  std::size_t QueuedBytes() const override { return 0; }
  bool IsOpen() const override { return !close_code.has_value(); }

  std::vector<json::object> sent;
  std::optional<std::uint16_t> close_code;

 private:
  std::string remote_ = "127.0.0.1:1";
};

std::string Field(const json::object& frame, std::string_view key) {
  const json::value* v = frame.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

class GatewayLimitsTest : public ::testing::Test {
 protected:
  GatewayLimitsTest() {
    store_ = store::OpenSqliteStore({dir_.File("exchange.db")}, metrics_);
    const auto snapshot = store_->Load();
    registry_ = std::make_unique<registry::Registry>(*store_, test_loop_.executor(), metrics_);
    registry_->Load(snapshot);
    exchange_ = std::make_unique<delivery::Exchange>(*registry_, *store_, test_loop_.executor(),
                                                     metrics_, delivery::ExchangeOptions{});
  }
  ~GatewayLimitsTest() override {
    gateway_.reset();
    exchange_.reset();
    registry_.reset();
    store_->Close();
  }

  void OpenGateway(delivery::RateLimit frame_rate, std::size_t flood_close) {
    GatewayOptions options;
    options.frame_rate = frame_rate;
    options.flood_close = flood_close;
    options.monotonic_ms = [this] { return now_ms_; };
    gateway_ = std::make_unique<TerminalGateway>(loop_, *registry_, *exchange_, metrics_, options);
    gateway_->OnOpen(conn_);
  }

  std::size_t Count(std::string_view type, std::string_view code) const {
    std::size_t n = 0;
    for (const auto& frame : conn_->sent)
      n += Field(frame, "type") == type && Field(frame, "code") == code ? 1 : 0;
    return n;
  }

  std::int64_t now_ms_ = 0;
  TempDir dir_;
  TestLoop test_loop_;
  net::EventLoop loop_;
  MetricsRegistry metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<delivery::Exchange> exchange_;
  std::unique_ptr<TerminalGateway> gateway_;
  std::shared_ptr<FakeConnection> conn_ = std::make_shared<FakeConnection>();
};

TEST_F(GatewayLimitsTest, FramesOverTheRateAreAnsweredRateLimitedWithAHint) {
  OpenGateway(delivery::RateLimit{10, 2}, 100);
  for (int i = 0; i < 3; ++i)
    gateway_->OnText(conn_, "not json");
  ASSERT_EQ(conn_->sent.size(), 3u);
  EXPECT_EQ(Count("error", "bad_frame"), 2u);
  ASSERT_EQ(Count("error", "rate_limited"), 1u);
  const json::object& limited = conn_->sent.back();
  ASSERT_TRUE(limited.contains("retry_after_ms"));
  EXPECT_EQ(limited.at("retry_after_ms").as_int64(), 100);
  EXPECT_FALSE(conn_->close_code.has_value());
  EXPECT_EQ(metrics_.GetCounter("switchboard_frames_refused_total", "").Value(), 1u);

  // Once the hinted time has passed the connection is served again.
  now_ms_ = 100;
  gateway_->OnText(conn_, "not json");
  EXPECT_EQ(Count("error", "bad_frame"), 3u);
}

TEST_F(GatewayLimitsTest, RefusedFramesOfEveryKindCount) {
  OpenGateway(delivery::RateLimit{1, 1}, 100);
  gateway_->OnRefused(conn_, net::WsRefusal::kBinary);
  gateway_->OnRefused(conn_, net::WsRefusal::kTooLarge);
  EXPECT_EQ(Count("error", "bad_frame"), 1u);
  EXPECT_EQ(Count("error", "rate_limited"), 1u);
}

TEST_F(GatewayLimitsTest, AContinuedFloodClosesTheConnection) {
  OpenGateway(delivery::RateLimit{10, 5}, 20);
  for (int i = 0; i < 1000 && !conn_->close_code; ++i)
    gateway_->OnText(conn_, "{}");
  ASSERT_TRUE(conn_->close_code.has_value());
  EXPECT_EQ(*conn_->close_code, 1008);
  EXPECT_EQ(Count("error", "rate_limited"), 20u) << "19 refusals, then the closing error";
  EXPECT_EQ(metrics_.GetCounter("switchboard_flood_disconnects_total", "").Value(), 1u);

  // What still arrives after the close is not answered.
  const std::size_t before = conn_->sent.size();
  gateway_->OnText(conn_, "{}");
  EXPECT_EQ(conn_->sent.size(), before);
}

TEST_F(GatewayLimitsTest, ACalmPeriodForgivesEarlierRefusals) {
  OpenGateway(delivery::RateLimit{10, 5}, 10);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 10; ++i)
      gateway_->OnText(conn_, "{}");  // five admitted, five refused
    now_ms_ += 1000;                  // the bucket refills completely
  }
  EXPECT_FALSE(conn_->close_code.has_value());
  EXPECT_EQ(Count("error", "rate_limited"), 25u);
}

}  // namespace
}  // namespace sb::api
