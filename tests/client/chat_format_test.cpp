#include "client/chat_format.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>

namespace sb::client::chat {
namespace {

namespace json = boost::json;

class ChatFormatTest : public ::testing::Test {
 protected:
  // Times print in UTC so that expectations do not depend on the machine.
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_F(ChatFormatTest, ContactsAreGroupedByPlatformWithoutSelf) {
  std::vector<PlatformUsers> users{{"metaworld", "Meta World", {"alice", "carol"}},
                                   {"shop", "Shop", {"bob"}}};
  auto contacts = ContactsFrom(users, Address{"metaworld", "alice"});
  ASSERT_EQ(contacts.size(), 2u);
  EXPECT_EQ(contacts[0].address, (Address{"metaworld", "carol"}));
  EXPECT_EQ(contacts[1].platform_name, "Shop");
  EXPECT_EQ(FormatContacts(contacts),
            "Meta World (metaworld)\n  1  carol\nShop (shop)\n  2  bob\n");
  EXPECT_EQ(FormatContacts({}), "No contacts.\n");
}

TEST_F(ChatFormatTest, AddressesSplitAtTheLastAt) {
  EXPECT_EQ(ParseAddress("bob@shop"), (Address{"shop", "bob"}));
  EXPECT_EQ(ParseAddress("a@b@shop"), (Address{"shop", "a@b"}));
  EXPECT_FALSE(ParseAddress("bob"));
  EXPECT_FALSE(ParseAddress("bob@Shop"));
  EXPECT_FALSE(ParseAddress("@shop"));
}

TEST_F(ChatFormatTest, LinesAreCommandsOrText) {
  EXPECT_EQ(std::get<SendLine>(ParseLine("hello there")).text, "hello there");
  EXPECT_EQ(std::get<SendLine>(ParseLine("//not a command")).text, "/not a command");
  EXPECT_EQ(std::get<PickContact>(ParseLine("/to  3 ")).which, "3");
  EXPECT_EQ(std::get<PickContact>(ParseLine("/to bob@shop")).which, "bob@shop");
  EXPECT_TRUE(std::holds_alternative<ListContacts>(ParseLine("/list")));
  EXPECT_TRUE(std::holds_alternative<Quit>(ParseLine("/quit")));
  EXPECT_TRUE(std::holds_alternative<Help>(ParseLine("/help")));
  EXPECT_EQ(std::get<UnknownCommand>(ParseLine("/dance now")).command, "/dance");
}

Message TextMessage() {
  Message m;
  m.message_id = "m1";
  m.ts_ms = 1700000584000;  // 2023-11-14 22:23:04 UTC
  m.from = {"metaworld", "alice"};
  m.from_platform_name = "Meta World";
  m.to = {"shop", "bob"};
  m.content_json = R"({"type":"text","text":"hi"})";
  m.app = "chat";
  m.text = "hi";
  return m;
}

TEST_F(ChatFormatTest, IncomingShowsTimePlatformAccountAndText) {
  EXPECT_EQ(FormatIncoming(TextMessage()), "[22:23:04] Meta World (metaworld) alice: hi");
  Message app = TextMessage();
  app.text.reset();
  app.app = "vr.pose";
  app.content_json = R"({"type":"app","app":"vr.pose"})";
  EXPECT_EQ(FormatIncoming(app),
            R"([22:23:04] Meta World (metaworld) alice: [vr.pose] {"type":"app","app":"vr.pose"})");
}

TEST_F(ChatFormatTest, EventsBecomeJsonLines) {
  json::value message = json::parse(EventJson(TextMessage()));
  EXPECT_EQ(message.at("event"), "message");
  EXPECT_EQ(message.at("from").at("platform_name"), "Meta World");
  EXPECT_EQ(message.at("content").at("text"), "hi");
  EXPECT_EQ(message.at("ts"), 1700000584000);

  json::value rejected = json::parse(
      EventJson(Rejected{"c1", Error{ErrorCode::kRateLimited, "rate_limited", "slow down"}}));
  EXPECT_EQ(rejected.at("event"), "rejected");
  EXPECT_EQ(rejected.at("code"), "rate_limited");
  EXPECT_EQ(rejected.at("id"), "c1");

  json::value receipt = json::parse(EventJson(Receipt{"c1", "m1", ReceiptStatus::kRead}));
  EXPECT_EQ(receipt.at("status"), "read");
  json::value lost = json::parse(EventJson(Disconnected{
      Error{ErrorCode::kUnavailable, "unavailable", "gone"}, true, std::chrono::milliseconds(40)}));
  EXPECT_EQ(lost.at("retry_in_ms"), 40);
  EXPECT_EQ(json::parse(EventJson(Connected{"p1", "P", "a", "s", true})).at("resumed"), true);
}

}  // namespace
}  // namespace sb::client::chat
