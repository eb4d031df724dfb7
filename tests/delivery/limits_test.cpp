// The exchange's limits: token buckets, send rate limits per account and per platform, the send
// queue bound (slow consumers, and a mailbox delivered a page at a time) and the offline quota.
#include <gtest/gtest.h>

#include <optional>

#include "delivery/exchange.h"
#include "delivery/rate_limiter.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_loop.h"

namespace sb::delivery {
namespace {

using sb::testing::TempDir;
using sb::testing::TestLoop;

TEST(TokenBucketTest, AdmitsTheBurstThenTheRateAndHintsTheWait) {
  TokenBucket bucket(RateLimit{10, 3}, 0);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(bucket.Take(0), 0) << "token " << i;
  EXPECT_EQ(bucket.Take(0), 100) << "one token comes every 100 ms at 10/s";
  EXPECT_EQ(bucket.Take(50), 50);
  EXPECT_EQ(bucket.Take(100), 0);
  EXPECT_FALSE(bucket.Full(100));
  EXPECT_TRUE(bucket.Full(400));
}

TEST(TokenBucketTest, RateZeroIsUnlimited) {
  TokenBucket bucket(RateLimit{0, 0}, 0);
  for (int i = 0; i < 100000; ++i)
    ASSERT_EQ(bucket.Take(0), 0);
}

TEST(KeyedRateLimiterTest, KeysAreIndependentAndFullBucketsAreForgotten) {
  KeyedRateLimiter limiter(RateLimit{1, 1});
  EXPECT_EQ(limiter.Take("a", 0), 0);
  EXPECT_GT(limiter.Take("a", 0), 0);
  EXPECT_EQ(limiter.Take("b", 0), 0);
  EXPECT_EQ(limiter.Size(), 2u);
  limiter.Prune(500);
  EXPECT_EQ(limiter.Size(), 2u) << "half refilled buckets are kept";
  limiter.Prune(1000);
  EXPECT_EQ(limiter.Size(), 0u);
}

// Records what the exchange tells one terminal; its backlog is set by the test.
class QueueLink : public TerminalLink {
 public:
  void Deliver(const SessionMessage& message, std::string_view) override {
    messages.push_back(message);
    backlog += message.content_json.size();
  }
  void Accepted(std::string_view client_id, std::string_view, std::int64_t, bool) override {
    answers.push_back({std::string(client_id), std::nullopt});
  }
  void Rejected(std::string_view client_id, const Error& error) override {
    answers.push_back({std::string(client_id), error});
  }
  void Receipt(std::string_view, std::string_view, ReceiptStatus) override {}
  void Disconnect(const Error& why) override { disconnected = why.code; }
  std::size_t Backlog() const override { return backlog; }

  struct Answer {
    std::string client_id;
    std::optional<Error> rejected;
  };
  std::vector<SessionMessage> messages;
  std::vector<Answer> answers;
  std::optional<ErrorCode> disconnected;
  std::size_t backlog = 0;
};

class LimitsTest : public ::testing::Test {
 protected:
  void Open() {
    options_.monotonic_ms = [this] { return now_ms_; };
    store_ = store::OpenSqliteStore({dir_.File("exchange.db")}, metrics_);
    const auto snapshot = store_->Load();
    registry_ = std::make_unique<registry::Registry>(*store_, loop_.executor(), metrics_);
    registry_->Load(snapshot);
    exchange_ =
        std::make_unique<Exchange>(*registry_, *store_, loop_.executor(), metrics_, options_);
    exchange_->Load(snapshot);
    registry_->SetObserver(exchange_.get());
    Register("Meta World", {{"alice", true}, {"amy", true}});
    Register("Shop", {{"bob", true}});
  }

  void TearDown() override {
    exchange_.reset();
    registry_.reset();
    if (store_) store_->Close();
  }

  void Register(const std::string& name, std::vector<store::AccountRecord> accounts) {
    auto keys = auth::JwkSet::Parse(R"({"keys":[)" + key_.PublicJwkJson("") + "]}");
    bool done = false;
    registry_->Register(
        registry::Registration{name, std::move(accounts), std::move(keys).value(), {}},
        [&](auto result) {
          ASSERT_TRUE(result.ok());
          done = true;
        });
    ASSERT_TRUE(loop_.RunUntil([&] { return done; }));
  }

  std::shared_ptr<QueueLink> Attach(TerminalId id, Address address, std::string device) {
    auto link = std::make_shared<QueueLink>();
    exchange_->Attach(id, address, device, link);
    return link;
  }

  void Send(TerminalId id, const std::string& client_id, const Address& from, const Address& to,
            std::size_t bytes = 10) {
    exchange_->Send(
        id, SendRequest{client_id, from, to,
                        R"({"type":"text","text":")" + std::string(bytes, 'x') + "\"}", "chat"});
  }

  void WaitAnswers(const QueueLink& link, std::size_t n) {
    ASSERT_TRUE(loop_.RunUntil([&] { return link.answers.size() >= n; }))
        << "got " << link.answers.size() << " answers of " << n;
  }

  // Reads (the queue shrinks by the message) and acks every message, including those that the acks
  // bring.
  void ReadAndAckAll(QueueLink& link, TerminalId id) {
    for (std::size_t i = 0; i < link.messages.size(); ++i) {
      link.backlog -= std::min(link.backlog, link.messages[i].content_json.size());
      exchange_->Ack(id, link.messages[i].message_id);
    }
  }

  std::size_t Rejected(const QueueLink& link, ErrorCode code) const {
    std::size_t n = 0;
    for (const auto& answer : link.answers)
      n += answer.rejected && answer.rejected->code == code ? 1 : 0;
    return n;
  }

  const Address alice_{"metaworld", "alice"};
  const Address amy_{"metaworld", "amy"};
  const Address bob_{"shop", "bob"};
  std::int64_t now_ms_ = 1000;
  TempDir dir_;
  TestLoop loop_;
  MetricsRegistry metrics_;
  ExchangeOptions options_;
  auth::SigningKey key_ = auth::SigningKey::Generate();
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<Exchange> exchange_;
};

TEST_F(LimitsTest, AccountOverItsRateIsRefusedWithARetryHint) {
  options_.account_rate = RateLimit{10, 3};
  Open();
  auto alice = Attach(1, alice_, "phone");
  for (int i = 0; i < 4; ++i)
    Send(1, "c" + std::to_string(i), alice_, bob_);
  WaitAnswers(*alice, 4);

  ASSERT_EQ(Rejected(*alice, ErrorCode::kRateLimited), 1u);
  const auto& refused = alice->answers.front();  // needs no disk, so it is answered first
  EXPECT_EQ(refused.client_id, "c3");
  EXPECT_EQ(refused.rejected->retry_after_ms, 100);
  EXPECT_EQ(
      metrics_.GetCounter("switchboard_messages_rejected_total", "", {{"code", "rate_limited"}})
          .Value(),
      1u);

  // After the hinted wait the same client id goes through.
  now_ms_ += 100;
  Send(1, "c3", alice_, bob_);
  WaitAnswers(*alice, 5);
  EXPECT_FALSE(alice->answers.back().rejected.has_value());
}

TEST_F(LimitsTest, PlatformRateCoversAllItsAccounts) {
  options_.platform_rate = RateLimit{1, 2};
  Open();
  auto alice = Attach(1, alice_, "phone");
  auto amy = Attach(2, amy_, "phone");
  Send(1, "a1", alice_, bob_);
  Send(2, "m1", amy_, bob_);
  Send(2, "m2", amy_, bob_);
  WaitAnswers(*amy, 2);
  EXPECT_EQ(Rejected(*alice, ErrorCode::kRateLimited), 0u);
  EXPECT_EQ(Rejected(*amy, ErrorCode::kRateLimited), 1u);
}

TEST_F(LimitsTest, ARepeatedClientIdIsAnsweredEvenWhenOverTheRate) {
  options_.account_rate = RateLimit{1, 1};
  Open();
  auto alice = Attach(1, alice_, "phone");
  Send(1, "c1", alice_, bob_);
  WaitAnswers(*alice, 1);
  Send(1, "c1", alice_, bob_);
  WaitAnswers(*alice, 2);
  EXPECT_FALSE(alice->answers[1].rejected.has_value()) << "a retry gets its first answer";
}

TEST_F(LimitsTest, LiveMessagePastTheQueueBoundDropsOnlyTheSlowTerminal) {
  options_.max_send_queue_bytes = 10000;
  Open();
  auto alice = Attach(1, alice_, "phone");
  auto slow = Attach(2, bob_, "slow");
  auto fast = Attach(3, bob_, "fast");
  slow->backlog = 9000;

  Send(1, "c1", alice_, bob_, 100);
  WaitAnswers(*alice, 1);
  EXPECT_EQ(slow->disconnected, ErrorCode::kSlowConsumer);
  EXPECT_TRUE(slow->messages.empty());
  EXPECT_EQ(fast->messages.size(), 1u);
  EXPECT_FALSE(fast->disconnected.has_value());
  EXPECT_EQ(metrics_.GetCounter("switchboard_slow_consumers_total", "").Value(), 1u);
  EXPECT_EQ(exchange_->TerminalCount(), 2u) << "the slow terminal is detached at once";

  // It is still owed the message: a new connection of the same device gets it.
  auto again = Attach(4, bob_, "slow");
  ASSERT_EQ(again->messages.size(), 1u);
}

TEST_F(LimitsTest, ABigMailboxIsDeliveredAPageAtATimeAsTheTerminalAcks) {
  options_.max_send_queue_bytes = 4000;
  Open();
  auto alice = Attach(1, alice_, "phone");
  constexpr int kCount = 20;
  for (int i = 0; i < kCount; ++i)
    Send(1, std::to_string(i), alice_, bob_, 500);
  WaitAnswers(*alice, kCount);

  // Half the bound (2000 bytes) is one page: four messages of 525 bytes each.
  auto bob = Attach(2, bob_, "laptop");
  ASSERT_EQ(bob->messages.size(), 4u);
  EXPECT_FALSE(bob->disconnected.has_value());

  // The terminal reads and acks each message; the ack that empties its queue brings the next
  // page, in order.
  ReadAndAckAll(*bob, 2);
  ASSERT_EQ(bob->messages.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i)
    EXPECT_EQ(bob->messages[i].client_id, std::to_string(i));
  EXPECT_GT(metrics_.GetCounter("switchboard_catch_up_pauses_total", "").Value(), 0u);
}

TEST_F(LimitsTest, LiveMessagesWaitBehindAPagedMailboxAndKeepOrder) {
  options_.max_send_queue_bytes = 2000;
  Open();
  auto alice = Attach(1, alice_, "phone");
  for (int i = 0; i < 4; ++i)
    Send(1, std::to_string(i), alice_, bob_, 500);
  WaitAnswers(*alice, 4);
  auto bob = Attach(2, bob_, "laptop");
  ASSERT_LT(bob->messages.size(), 4u);

  Send(1, "4", alice_, bob_, 500);
  WaitAnswers(*alice, 5);
  EXPECT_FALSE(bob->disconnected.has_value()) << "a paged terminal is not a slow consumer";

  ReadAndAckAll(*bob, 2);
  ASSERT_EQ(bob->messages.size(), 5u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(bob->messages[i].client_id, std::to_string(i));
}

TEST_F(LimitsTest, OfflineQuotaCountsMessagesStillBeingStored) {
  options_.account_queue_quota = 3;
  Open();
  auto alice = Attach(1, alice_, "phone");
  for (int i = 0; i < 5; ++i)
    Send(1, std::to_string(i), alice_, bob_);
  WaitAnswers(*alice, 5);
  EXPECT_EQ(Rejected(*alice, ErrorCode::kRecipientQueueFull), 2u);

  // Once a device acks, room comes back.
  auto bob = Attach(2, bob_, "laptop");
  for (const auto& message : bob->messages)
    exchange_->Ack(2, message.message_id);
  Send(1, "5", alice_, bob_);
  WaitAnswers(*alice, 6);
  EXPECT_FALSE(alice->answers.back().rejected.has_value());
}

}  // namespace
}  // namespace sb::delivery
