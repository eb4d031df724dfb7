// Delivery through the real binary: across platforms, to offline and multiple devices, across a
// crash, in order, deduplicated, with receipts.
#include <chrono>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace sb::itest {
namespace {

using namespace std::chrono_literals;

class DeliveryTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    meta_ = Register("Meta World", {"alice", "amy"});
    other_ = Register("Other Place", {"bob"});
  }

  Address Alice() const { return meta_.At("alice"); }
  Address Bob() const { return other_.At("bob"); }

  // The text of a message frame.
  static std::string Text(const json::object& message) {
    return Str(message.at("content").as_object(), "text");
  }

  // The next message frame; throws when none comes.
  static json::object NextMessage(Terminal& terminal) { return terminal.Expect("message"); }

  void Ack(Terminal& terminal, const json::object& message) {
    terminal.SendJson(json::object{{"type", "ack"}, {"message_id", message.at("message_id")}});
  }

  Platform meta_;
  Platform other_;
};

TEST_F(DeliveryTest, CrossPlatformMessageCarriesSenderIdentity) {
  ASSERT_EQ(meta_.id, "metaworld");
  auto alice = Connect(meta_, "alice");
  auto bob = Connect(other_, "bob");
  const std::int64_t before_ms = static_cast<std::int64_t>(std::time(nullptr)) * 1000 - 1000;

  json::object accepted = alice->SendAccepted(Alice(), Bob(), "hello across");
  EXPECT_FALSE(Str(accepted, "message_id").empty());
  EXPECT_GE(accepted.at("ts").to_number<std::int64_t>(), before_ms);

  json::object message = NextMessage(*bob);
  const auto& from = message.at("from").as_object();
  EXPECT_EQ(Str(from, "platform"), "metaworld");
  EXPECT_EQ(Str(from, "platform_name"), "Meta World");
  EXPECT_EQ(Str(from, "account"), "alice");
  EXPECT_EQ(Str(message.at("to").as_object(), "platform"), other_.id);
  EXPECT_EQ(Str(message.at("to").as_object(), "account"), "bob");
  EXPECT_EQ(Str(message.at("content").as_object(), "type"), "text");
  EXPECT_EQ(Text(message), "hello across");
  EXPECT_EQ(Str(message, "message_id"), Str(accepted, "message_id"));
  EXPECT_EQ(message.at("ts").to_number<std::int64_t>(),
            accepted.at("ts").to_number<std::int64_t>());
  const auto& route = message.at("route").as_object();
  for (const char* key : {"site", "dnai", "ulcl", "psa"}) {
    EXPECT_TRUE(route.contains(key)) << key << " missing in " << json::serialize(route);
  }
}

TEST_F(DeliveryTest, OfflineDeviceGetsMessageWhenItConnects) {
  auto alice = Connect(meta_, "alice");
  json::object accepted = alice->SendAccepted(Alice(), Bob(), "while you were away");

  auto bob = Connect(other_, "bob", "phone");
  json::object message = NextMessage(*bob);
  EXPECT_EQ(Str(message, "message_id"), Str(accepted, "message_id"));
  EXPECT_EQ(Text(message), "while you were away");
}

TEST_F(DeliveryTest, MessageIsRedeliveredOnReconnectUntilAcked) {
  auto alice = Connect(meta_, "alice");
  json::object accepted = alice->SendAccepted(Alice(), Bob(), "ack me");

  // Seen but not acked: it comes again on the next connection of the same device.
  auto bob = Connect(other_, "bob", "phone");
  EXPECT_EQ(Str(NextMessage(*bob), "message_id"), Str(accepted, "message_id"));
  bob->ws().Close();
  bob = Connect(other_, "bob", "phone");
  json::object again = NextMessage(*bob);
  EXPECT_EQ(Str(again, "message_id"), Str(accepted, "message_id"));

  // Acked: the next connection gets only what is new.
  Ack(*bob, again);
  json::object marker = alice->SendAccepted(Alice(), Bob(), "marker");
  EXPECT_EQ(Str(NextMessage(*bob), "message_id"), Str(marker, "message_id"));
  Ack(*bob, marker);
  // The ack has no answer; a later send on the same connection is handled after it.
  bob->SendAccepted(Bob(), Alice(), "sync");
  bob->ws().Close();
  bob = Connect(other_, "bob", "phone");
  EXPECT_FALSE(bob->WaitForType("message", kQuietTimeout).has_value());
}

TEST_F(DeliveryTest, AcceptedMessagesSurviveKill9) {
  std::vector<std::string> ids;
  {
    auto alice = Connect(meta_, "alice");
    for (int i = 0; i < 5; ++i) {
      ids.push_back(
          Str(alice->SendAccepted(Alice(), Bob(), "crash " + std::to_string(i)), "message_id"));
    }
  }

  exchange().Kill();
  exchange().Start();

  auto bob = Connect(other_, "bob");
  for (int i = 0; i < 5; ++i) {
    json::object message = NextMessage(*bob);
    EXPECT_EQ(Str(message, "message_id"), ids[i]);
    EXPECT_EQ(Text(message), "crash " + std::to_string(i));
  }
  EXPECT_FALSE(bob->WaitForType("message", kQuietTimeout).has_value());
}

TEST_F(DeliveryTest, RepeatedClientIdIsDeduplicated) {
  auto alice = Connect(meta_, "alice");
  auto bob = Connect(other_, "bob");

  alice->SendText(Alice(), Bob(), "once", "dup-1");
  auto first = alice->WaitForAnswer("dup-1");
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(Str(*first, "type"), "accepted") << json::serialize(*first);
  alice->SendText(Alice(), Bob(), "once", "dup-1");
  auto second = alice->WaitForAnswer("dup-1");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(Str(*second, "type"), "accepted") << json::serialize(*second);
  EXPECT_EQ(Str(*second, "message_id"), Str(*first, "message_id"));
  const auto* duplicate = second->if_contains("duplicate");
  EXPECT_TRUE(duplicate != nullptr && duplicate->is_bool() && duplicate->as_bool())
      << json::serialize(*second);

  // Bob sees the message once: the next one after it is the marker.
  json::object marker = alice->SendAccepted(Alice(), Bob(), "marker");
  EXPECT_EQ(Str(NextMessage(*bob), "message_id"), Str(*first, "message_id"));
  EXPECT_EQ(Str(NextMessage(*bob), "message_id"), Str(marker, "message_id"));
}

TEST_F(DeliveryTest, TenThousandPipelinedMessagesArriveInOrder) {
  constexpr int kCount = 10000;
  auto alice = Connect(meta_, "alice");
  auto bob = Connect(other_, "bob");

  // Bob reads on his own thread so that neither side's buffers fill while alice writes.
  std::vector<std::string> received;
  std::thread reader([&bob, &received] {
    received.reserve(kCount);
    while (received.size() < kCount) {
      auto message = bob->WaitForType("message", 30s);
      if (!message) return;
      received.push_back(Text(*message));
    }
  });

  std::vector<std::string> ids;
  for (int i = 0; i < kCount; ++i) {
    ids.push_back(alice->SendText(Alice(), Bob(), std::to_string(i)));
  }
  int accepted = 0;
  for (const std::string& id : ids) {
    auto answer = alice->WaitForAnswer(id, 30s);
    if (answer && Str(*answer, "type") == "accepted") {
      ++accepted;
    } else {
      ADD_FAILURE() << "send " << id << ": "
                    << (answer ? json::serialize(*answer) : std::string("no answer"));
      break;
    }
  }
  reader.join();

  EXPECT_EQ(accepted, kCount);
  ASSERT_EQ(received.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(received[i], std::to_string(i)) << "at position " << i;
  }
}

TEST_F(DeliveryTest, EveryDeviceOfTheAccountGetsTheMessage) {
  auto alice = Connect(meta_, "alice");
  auto phone = Connect(other_, "bob", "phone");
  auto laptop = Connect(other_, "bob", "laptop");

  json::object accepted = alice->SendAccepted(Alice(), Bob(), "to all of you");
  EXPECT_EQ(Str(NextMessage(*phone), "message_id"), Str(accepted, "message_id"));
  EXPECT_EQ(Str(NextMessage(*laptop), "message_id"), Str(accepted, "message_id"));
}

TEST_F(DeliveryTest, OfflineSecondDeviceGetsMessageLater) {
  auto alice = Connect(meta_, "alice");
  auto phone = Connect(other_, "bob", "phone");
  // The laptop has been seen once, so the exchange knows it as a device of bob.
  Connect(other_, "bob", "laptop")->ws().Close();

  json::object accepted = alice->SendAccepted(Alice(), Bob(), "catch up");
  json::object on_phone = NextMessage(*phone);
  Ack(*phone, on_phone);

  auto laptop = Connect(other_, "bob", "laptop");
  EXPECT_EQ(Str(NextMessage(*laptop), "message_id"), Str(accepted, "message_id"));
}

TEST_F(DeliveryTest, SenderGetsDeliveredAndReadReceipts) {
  auto alice = Connect(meta_, "alice");
  auto bob = Connect(other_, "bob");

  const std::string id = alice->SendText(Alice(), Bob(), "did you get it?");
  auto accepted = alice->WaitForAnswer(id);
  ASSERT_TRUE(accepted.has_value());
  const std::string message_id = Str(*accepted, "message_id");
  json::object message = NextMessage(*bob);
  ASSERT_EQ(Str(message, "message_id"), message_id);

  Ack(*bob, message);
  json::object delivered = alice->Expect("receipt");
  EXPECT_EQ(Str(delivered, "id"), id);
  EXPECT_EQ(Str(delivered, "message_id"), message_id);
  EXPECT_EQ(Str(delivered, "status"), "delivered");

  bob->SendJson(json::object{{"type", "read"}, {"message_id", message_id}});
  json::object read = alice->Expect("receipt");
  EXPECT_EQ(Str(read, "id"), id);
  EXPECT_EQ(Str(read, "message_id"), message_id);
  EXPECT_EQ(Str(read, "status"), "read");
}

}  // namespace
}  // namespace sb::itest
