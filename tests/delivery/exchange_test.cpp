#include "delivery/exchange.h"

#include <gtest/gtest.h>

#include <optional>

#include "core/clock.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_loop.h"

namespace sb::delivery {
namespace {

using sb::testing::TempDir;
using sb::testing::TestLoop;

// Records what the exchange tells one terminal.
class RecordingLink : public TerminalLink {
 public:
  struct Answer {
    std::string client_id;
    std::string message_id;
    bool duplicate = false;
    std::optional<ErrorCode> rejected;
  };
  struct ReceiptSeen {
    std::string client_id;
    std::string message_id;
    ReceiptStatus status;
  };

  void Deliver(const SessionMessage& message, std::string_view platform_name) override {
    messages.push_back(message);
    platform_names.emplace_back(platform_name);
  }
  void Accepted(std::string_view client_id, std::string_view message_id, std::int64_t,
                bool duplicate) override {
    answers.push_back({std::string(client_id), std::string(message_id), duplicate, {}});
  }
  void Rejected(std::string_view client_id, const Error& error) override {
    answers.push_back({std::string(client_id), {}, false, error.code});
  }
  void Receipt(std::string_view client_id, std::string_view message_id,
               ReceiptStatus status) override {
    receipts.push_back({std::string(client_id), std::string(message_id), status});
  }
  void Disconnect(const Error& why) override { disconnected = why.code; }
  std::size_t Backlog() const override { return 0; }

  std::vector<SessionMessage> messages;
  std::vector<std::string> platform_names;
  std::vector<Answer> answers;
  std::vector<ReceiptSeen> receipts;
  std::optional<ErrorCode> disconnected;
};

class ExchangeTest : public ::testing::Test {
 protected:
  ExchangeTest() {
    Open();
    Register("Meta World", {{"alice", true}});
    Register("Shop", {{"bob", true}, {"ben", true}});
  }

  void Open() {
    exchange_.reset();
    registry_.reset();
    if (store_) store_->Close();
    store_ = store::OpenSqliteStore({dir_.File("exchange.db"), durable_}, metrics_);
    const auto snapshot = store_->Load();
    registry_ = std::make_unique<registry::Registry>(*store_, loop_.executor(), metrics_);
    registry_->Load(snapshot);
    exchange_ =
        std::make_unique<Exchange>(*registry_, *store_, loop_.executor(), metrics_, options_);
    exchange_->Load(snapshot);
    registry_->SetObserver(exchange_.get());
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

  std::shared_ptr<RecordingLink> Attach(TerminalId id, Address address, std::string device) {
    auto link = std::make_shared<RecordingLink>();
    exchange_->Attach(id, address, device, link);
    return link;
  }

  SendRequest Text(std::string client_id, Address from, Address to, std::string text = "hi") {
    return SendRequest{std::move(client_id), std::move(from), std::move(to),
                       R"({"type":"text","text":")" + text + "\"}", "chat"};
  }

  void WaitAnswers(const RecordingLink& link, std::size_t n) {
    ASSERT_TRUE(loop_.RunUntil([&] { return link.answers.size() >= n; }))
        << "got " << link.answers.size() << " answers of " << n;
  }

  const Address alice_{"metaworld", "alice"};
  const Address bob_{"shop", "bob"};
  TempDir dir_;
  TestLoop loop_;
  MetricsRegistry metrics_;
  ExchangeOptions options_;
  bool durable_ = true;
  auth::SigningKey key_ = auth::SigningKey::Generate();
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<Exchange> exchange_;
};

TEST_F(ExchangeTest, DeliversWithSenderPlatformAndAccountAfterAccepting) {
  auto alice = Attach(1, alice_, "phone");
  auto bob = Attach(2, bob_, "laptop");
  exchange_->Send(1, Text("c1", alice_, bob_));
  EXPECT_TRUE(alice->answers.empty()) << "accepted must wait for the store";
  WaitAnswers(*alice, 1);

  ASSERT_FALSE(alice->answers[0].rejected.has_value());
  ASSERT_EQ(bob->messages.size(), 1u);
  EXPECT_EQ(bob->messages[0].from, alice_);
  EXPECT_EQ(bob->platform_names[0], "Meta World");
  EXPECT_EQ(bob->messages[0].message_id, alice->answers[0].message_id);
  EXPECT_EQ(metrics_.GetCounter("switchboard_messages_accepted_total", "").Value(), 1u);
}

TEST_F(ExchangeTest, WriteBehindAcceptsAndDeliversBeforeTheCommit) {
  durable_ = false;
  Open();
  auto alice = Attach(1, alice_, "phone");
  auto bob = Attach(2, bob_, "laptop");

  exchange_->Send(1, Text("c1", alice_, bob_));
  exchange_->Send(1, Text("c1", alice_, bob_));  // a retry is answered from dedup at once

  ASSERT_EQ(alice->answers.size(), 2u) << "write-behind answers without waiting for the store";
  EXPECT_FALSE(alice->answers[0].rejected.has_value());
  EXPECT_TRUE(alice->answers[1].duplicate);
  EXPECT_EQ(alice->answers[1].message_id, alice->answers[0].message_id);
  ASSERT_EQ(bob->messages.size(), 1u);
  EXPECT_EQ(bob->messages[0].message_id, alice->answers[0].message_id);

  // The store still gets the message: it survives a restart until acked.
  store_->Flush();
  Open();
  bob = Attach(2, bob_, "laptop");
  ASSERT_EQ(bob->messages.size(), 1u);
  exchange_->Ack(2, bob->messages[0].message_id);
  EXPECT_EQ(exchange_->QueuedMessages(), 0u);
}

TEST_F(ExchangeTest, RefusesSpoofedSenderAndUnknownRecipients) {
  auto alice = Attach(1, alice_, "phone");
  exchange_->Send(1, Text("c1", bob_, alice_));
  exchange_->Send(1, Text("c2", alice_, {"shop", "nobody"}));
  exchange_->Send(1, Text("c3", alice_, {"nowhere", "bob"}));
  ASSERT_EQ(alice->answers.size(), 3u);
  EXPECT_EQ(alice->answers[0].rejected, ErrorCode::kSenderMismatch);
  EXPECT_EQ(alice->answers[1].rejected, ErrorCode::kRecipientNotRegistered);
  EXPECT_EQ(alice->answers[2].rejected, ErrorCode::kPlatformNotRegistered);
  EXPECT_EQ(
      metrics_.GetCounter("switchboard_messages_rejected_total", "", {{"code", "sender_mismatch"}})
          .Value(),
      1u);
}

TEST_F(ExchangeTest, OfflineDeviceGetsWhatWaitedWhenItAttaches) {
  auto alice = Attach(1, alice_, "phone");
  exchange_->Send(1, Text("c1", alice_, bob_, "one"));
  exchange_->Send(1, Text("c2", alice_, bob_, "two"));
  WaitAnswers(*alice, 2);
  EXPECT_EQ(exchange_->QueuedMessages(), 2u);

  auto bob = Attach(2, bob_, "laptop");
  ASSERT_EQ(bob->messages.size(), 2u);
  EXPECT_NE(bob->messages[0].content_json.find("one"), std::string::npos);
  EXPECT_NE(bob->messages[1].content_json.find("two"), std::string::npos);
}

TEST_F(ExchangeTest, RepeatedClientIdGetsTheSameMessageId) {
  auto alice = Attach(1, alice_, "phone");
  auto bob = Attach(2, bob_, "laptop");
  exchange_->Send(1, Text("same", alice_, bob_));
  exchange_->Send(1, Text("same", alice_, bob_));  // before the first is durable
  WaitAnswers(*alice, 2);
  exchange_->Send(1, Text("same", alice_, bob_));  // after
  ASSERT_EQ(alice->answers.size(), 3u);
  EXPECT_FALSE(alice->answers[0].duplicate);
  EXPECT_TRUE(alice->answers[1].duplicate);
  EXPECT_TRUE(alice->answers[2].duplicate);
  EXPECT_EQ(alice->answers[1].message_id, alice->answers[0].message_id);
  EXPECT_EQ(alice->answers[2].message_id, alice->answers[0].message_id);
  EXPECT_EQ(bob->messages.size(), 1u);
}

TEST_F(ExchangeTest, EveryDeviceGetsTheMessageAndItStaysUntilAllAcked) {
  auto alice = Attach(1, alice_, "phone");
  auto bob_phone = Attach(2, bob_, "phone");
  auto bob_laptop = Attach(3, bob_, "laptop");
  exchange_->Send(1, Text("c1", alice_, bob_));
  WaitAnswers(*alice, 1);
  ASSERT_EQ(bob_phone->messages.size(), 1u);
  ASSERT_EQ(bob_laptop->messages.size(), 1u);
  const std::string id = bob_phone->messages[0].message_id;

  exchange_->Ack(2, id);
  ASSERT_EQ(alice->receipts.size(), 1u);
  EXPECT_EQ(alice->receipts[0].status, ReceiptStatus::kDelivered);
  EXPECT_EQ(alice->receipts[0].client_id, "c1");
  EXPECT_EQ(exchange_->QueuedMessages(), 1u);

  // The laptop reconnects before acking: it is offered the message again.
  exchange_->Detach(3);
  auto laptop_again = Attach(4, bob_, "laptop");
  ASSERT_EQ(laptop_again->messages.size(), 1u);
  exchange_->Ack(4, id);
  EXPECT_EQ(exchange_->QueuedMessages(), 0u);
  EXPECT_EQ(alice->receipts.size(), 1u) << "delivered is reported once";

  exchange_->Read(4, id);
  ASSERT_EQ(alice->receipts.size(), 2u);
  EXPECT_EQ(alice->receipts[1].status, ReceiptStatus::kRead);
}

TEST_F(ExchangeTest, OrderOfOneSenderIsKept) {
  auto alice = Attach(1, alice_, "phone");
  auto bob = Attach(2, bob_, "laptop");
  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i)
    exchange_->Send(1, Text(std::to_string(i), alice_, bob_));
  WaitAnswers(*alice, kCount);
  ASSERT_EQ(bob->messages.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i)
    EXPECT_EQ(bob->messages[i].client_id, std::to_string(i));
}

TEST_F(ExchangeTest, QuotaRefusesWhenTheRecipientHasTooMuchWaiting) {
  options_.account_queue_quota = 2;
  Open();
  auto alice = Attach(1, alice_, "phone");
  for (int i = 0; i < 3; ++i)
    exchange_->Send(1, Text(std::to_string(i), alice_, bob_));
  WaitAnswers(*alice, 3);
  // The refusal needs no disk, so it comes before the two acceptances.
  EXPECT_EQ(alice->answers[0].client_id, "2");
  EXPECT_EQ(alice->answers[0].rejected, ErrorCode::kRecipientQueueFull);
  EXPECT_FALSE(alice->answers[1].rejected.has_value());
  EXPECT_FALSE(alice->answers[2].rejected.has_value());
}

TEST_F(ExchangeTest, WaitingMessagesSurviveARestart) {
  {
    auto alice = Attach(1, alice_, "phone");
    exchange_->Send(1, Text("c1", alice_, bob_, "kept"));
    WaitAnswers(*alice, 1);
  }
  Open();
  auto bob = Attach(2, bob_, "laptop");
  ASSERT_EQ(bob->messages.size(), 1u);
  EXPECT_EQ(bob->messages[0].from, alice_);
  EXPECT_NE(bob->messages[0].content_json.find("kept"), std::string::npos);

  // And the client id is still remembered, with the message id it was accepted as.
  auto alice = Attach(3, alice_, "phone");
  exchange_->Send(3, Text("c1", alice_, bob_, "kept"));
  ASSERT_EQ(alice->answers.size(), 1u);
  EXPECT_TRUE(alice->answers[0].duplicate);
  EXPECT_EQ(alice->answers[0].message_id, bob->messages[0].message_id);
}

TEST_F(ExchangeTest, AClientIdIsPerSenderAndDeviceAndOnlyForTheDedupWindow) {
  auto alice_phone = Attach(1, alice_, "phone");
  auto alice_tablet = Attach(2, alice_, "tablet");
  auto bob = Attach(3, bob_, "laptop");
  exchange_->Send(1, Text("c1", alice_, bob_));
  exchange_->Send(2, Text("c1", alice_, bob_));  // another device: another message
  exchange_->Send(3, Text("c1", bob_, alice_));  // another sender: another message
  WaitAnswers(*alice_phone, 1);
  WaitAnswers(*alice_tablet, 1);
  WaitAnswers(*bob, 1);
  EXPECT_FALSE(alice_phone->answers[0].duplicate);
  EXPECT_FALSE(alice_tablet->answers[0].duplicate);
  EXPECT_FALSE(bob->answers[0].duplicate);
  EXPECT_NE(alice_phone->answers[0].message_id, alice_tablet->answers[0].message_id);

  // Once the window has passed, the client id may be used again for a new message.
  exchange_->Sweep(NowMillis() + options_.dedup_window_ms + 1000);
  exchange_->Send(1, Text("c1", alice_, bob_));
  WaitAnswers(*alice_phone, 2);
  EXPECT_FALSE(alice_phone->answers[1].duplicate);
  EXPECT_NE(alice_phone->answers[1].message_id, alice_phone->answers[0].message_id);
}

TEST_F(ExchangeTest, ExpiredMessagesLeaveTheMailbox) {
  auto alice = Attach(1, alice_, "phone");
  exchange_->Send(1, Text("c1", alice_, bob_));
  WaitAnswers(*alice, 1);
  exchange_->Sweep(NowMillis() + options_.retention_ms + 1);
  EXPECT_EQ(exchange_->QueuedMessages(), 0u);
  auto bob = Attach(2, bob_, "laptop");
  EXPECT_TRUE(bob->messages.empty());
}

TEST_F(ExchangeTest, DeregistrationDisconnectsThePlatformsTerminals) {
  auto bob = Attach(2, bob_, "laptop");
  bool done = false;
  registry_->Deregister("shop", [&](auto result) {
    EXPECT_TRUE(result.ok());
    done = true;
  });
  ASSERT_TRUE(loop_.RunUntil([&] { return done; }));
  EXPECT_EQ(bob->disconnected, ErrorCode::kPlatformNotRegistered);
}

TEST_F(ExchangeTest, RetryOfAnAcceptedMessageIsAnsweredEvenIfTheRecipientWentAway) {
  auto alice = Attach(1, alice_, "phone");
  exchange_->Send(1, Text("c1", alice_, bob_));
  WaitAnswers(*alice, 1);
  bool removed = false;
  registry_->ChangeAccounts("shop", {}, {"bob"}, [&](auto result) { removed = result.ok(); });
  ASSERT_TRUE(loop_.RunUntil([&] { return removed; }));

  exchange_->Send(1, Text("c1", alice_, bob_));
  ASSERT_EQ(alice->answers.size(), 2u);
  EXPECT_TRUE(alice->answers[1].duplicate);
  EXPECT_EQ(alice->answers[1].message_id, alice->answers[0].message_id);
  exchange_->Send(1, Text("c2", alice_, bob_));
  EXPECT_EQ(alice->answers[2].rejected, ErrorCode::kRecipientNotRegistered);
}

TEST_F(ExchangeTest, OnlyTheRecipientCanMarkAMessageRead) {
  auto alice = Attach(1, alice_, "phone");
  auto bob = Attach(2, bob_, "laptop");
  auto ben = Attach(3, {"shop", "ben"}, "tablet");
  exchange_->Send(1, Text("c1", alice_, bob_));
  WaitAnswers(*alice, 1);
  const std::string id = bob->messages.at(0).message_id;
  exchange_->Ack(2, id);  // the only device: the message is finished
  ASSERT_EQ(alice->receipts.size(), 1u);

  exchange_->Read(3, id);
  exchange_->Ack(3, id);
  EXPECT_EQ(alice->receipts.size(), 1u) << "ben is not the recipient";
  exchange_->Read(2, id);
  ASSERT_EQ(alice->receipts.size(), 2u);
  EXPECT_EQ(alice->receipts[1].status, ReceiptStatus::kRead);
}

TEST_F(ExchangeTest, ReadMarksReachTheLastFinishedMessagesOnly) {
  options_.receipt_memory = 2;
  Open();
  auto alice = Attach(1, alice_, "phone");
  auto bob = Attach(2, bob_, "laptop");
  std::vector<std::string> ids;
  for (const char* client_id : {"c1", "c2", "c3"}) {
    exchange_->Send(1, Text(client_id, alice_, bob_));
    WaitAnswers(*alice, ids.size() + 1);
    ids.push_back(bob->messages.back().message_id);
    exchange_->Ack(2, ids.back());  // finished: only its receipt target is remembered
  }
  ASSERT_EQ(alice->receipts.size(), 3u);

  exchange_->Read(2, ids[0]);  // the oldest left the memory of two
  EXPECT_EQ(alice->receipts.size(), 3u);
  exchange_->Read(2, ids[2]);
  exchange_->Read(2, ids[1]);
  exchange_->Read(2, ids[1]);  // once only
  ASSERT_EQ(alice->receipts.size(), 5u);
  EXPECT_EQ(alice->receipts[3].message_id, ids[2]);
  EXPECT_EQ(alice->receipts[3].client_id, "c3");
  EXPECT_EQ(alice->receipts[3].status, ReceiptStatus::kRead);
  EXPECT_EQ(alice->receipts[4].message_id, ids[1]);
}

TEST_F(ExchangeTest, AStaleDeviceNoLongerHoldsMessages) {
  auto alice = Attach(1, alice_, "phone");
  Attach(2, bob_, "old-phone");
  exchange_->Detach(2);
  // The old phone's last hello must lie strictly before the message's time.
  const std::int64_t seen = NowMillis();
  while (NowMillis() < seen + 2) {
  }
  auto laptop = Attach(3, bob_, "laptop");
  exchange_->Send(1, Text("c1", alice_, bob_));
  WaitAnswers(*alice, 1);
  const SessionMessage& message = laptop->messages.at(0);
  exchange_->Ack(3, message.message_id);
  EXPECT_EQ(exchange_->QueuedMessages(), 1u) << "the old phone has not acked";

  // Just before the message expires, the old phone has been silent for the whole retention
  // period: it is forgotten, while the laptop stays known because it is connected.
  exchange_->Sweep(message.ts_ms + options_.retention_ms - 1);
  EXPECT_EQ(exchange_->QueuedMessages(), 0u);
  EXPECT_EQ(metrics_.GetCounter("switchboard_messages_expired_total", "").Value(), 0u);
}

}  // namespace
}  // namespace sb::delivery
