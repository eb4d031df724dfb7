// The terminal protocol of the real binary: hello, and every frame the exchange refuses, each with
// its stable code and with the connection staying open or closing as decided.
#include <ctime>
#include <string>

#include "harness.h"

namespace sb::itest {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kPolicyViolation = 1008;

class TerminalTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    alpha_ = Register("Alpha", {"alice", "amy"});
    bravo_ = Register("Bravo", {"bob"});
  }

  // A good send from alice to bob answers `accepted`: the connection still works.
  void ExpectStillServing(Terminal& alice) {
    EXPECT_NO_THROW(alice.SendAccepted(alpha_.At("alice"), bravo_.At("bob"), "still there"));
  }

  // Hello with `token` fails with `code`, and the exchange then closes with 1008.
  void ExpectHelloRefused(const std::string& token, const std::string& code) {
    Terminal terminal(exchange().Port());
    auto answer = terminal.HelloExpectingError(token, "device-1");
    EXPECT_TRUE(IsFrame(answer, "error", code));
    EXPECT_TRUE(terminal.WaitClosed());
    EXPECT_EQ(terminal.ws().CloseCode(), kPolicyViolation);
  }

  Platform alpha_;
  Platform bravo_;
};

TEST_F(TerminalTest, HelloIsWelcomed) {
  Terminal terminal(exchange().Port());
  json::object welcome = terminal.Hello(alpha_.Token("alice"), "device-1");

  EXPECT_EQ(Str(welcome.at("platform").as_object(), "id"), alpha_.id);
  EXPECT_EQ(Str(welcome.at("platform").as_object(), "name"), "Alpha");
  EXPECT_EQ(Str(welcome, "account"), "alice");
  EXPECT_TRUE(welcome.contains("session"));
}

TEST_F(TerminalTest, FrameBeforeHelloIsUnauthenticatedAndConnectionStays) {
  Terminal terminal(exchange().Port());
  terminal.SendJson(SendFrame("early", alpha_.At("alice"), bravo_.At("bob"), "too early"));

  auto error = terminal.WaitFor([](const json::object&) { return true; });
  EXPECT_TRUE(IsFrame(error, "error", "unauthenticated"));
  EXPECT_TRUE(terminal.ws().IsOpen());
  EXPECT_NO_THROW(terminal.Hello(alpha_.Token("alice"), "device-1"));
  ExpectStillServing(terminal);
}

TEST_F(TerminalTest, GarbageTokenIsBadToken) {
  ExpectHelloRefused("not.a.jwt", "bad_token");
}

TEST_F(TerminalTest, TokenSignedByUnregisteredKeyIsBadToken) {
  auth::SigningKey stranger = auth::SigningKey::Generate();
  ExpectHelloRefused(stranger.MintToken(alpha_.id, "alice", std::time(nullptr), 3600, "k1"),
                     "bad_token");
}

TEST_F(TerminalTest, ExpiredTokenIsTokenExpired) {
  const std::int64_t two_hours_ago = std::time(nullptr) - 7200;
  ExpectHelloRefused(alpha_.key.MintToken(alpha_.id, "alice", two_hours_ago, 3600, alpha_.kid),
                     "token_expired");
}

TEST_F(TerminalTest, TokenOfUnknownPlatformIsPlatformNotRegistered) {
  ExpectHelloRefused(
      alpha_.key.MintToken("nosuchplatform", "alice", std::time(nullptr), 3600, alpha_.kid),
      "platform_not_registered");
}

TEST_F(TerminalTest, TokenOfUnknownAccountIsSenderNotRegistered) {
  ExpectHelloRefused(alpha_.Token("nobody"), "sender_not_registered");
}

TEST_F(TerminalTest, UnreadableFramesAreBadFrameAndConnectionStays) {
  auto alice = Connect(alpha_, "alice");
  const std::string unreadable[] = {"{not json", "[1,2,3]", "\"text\"", R"({"type":"teleport"})",
                                    R"({"no_type":true})"};
  for (const std::string& frame : unreadable) {
    SCOPED_TRACE(frame);
    alice->SendRaw(frame);
    EXPECT_TRUE(IsFrame(alice->WaitForType("error"), "error", "bad_frame"));
    ExpectStillServing(*alice);
  }
}

TEST_F(TerminalTest, BinaryFrameIsBadFrameAndConnectionStays) {
  auto alice = Connect(alpha_, "alice");
  alice->ws().SendBinary(std::string("\x00\x01\x02\xff", 4));

  EXPECT_TRUE(IsFrame(alice->WaitForType("error"), "error", "bad_frame"));
  ExpectStillServing(*alice);
}

TEST_F(TerminalTest, FrameOverDefaultLimitIsTooLargeAndConnectionStays) {
  auto alice = Connect(alpha_, "alice");
  alice->SendJson(
      SendFrame("huge", alpha_.At("alice"), bravo_.At("bob"), std::string(140000, 'x')));

  EXPECT_TRUE(IsFrame(alice->WaitForType("error"), "error", "too_large"));
  ExpectStillServing(*alice);
}

TEST_F(TerminalTest, BadFrameDoesNotDropTheNextSendOfTheConnection) {
  auto alice = Connect(alpha_, "alice");

  // Both written before either answer is read.
  alice->SendRaw("{broken");
  const std::string id = alice->SendText(alpha_.At("alice"), bravo_.At("bob"), "after the bad one");

  EXPECT_TRUE(IsFrame(alice->WaitForType("error"), "error", "bad_frame"));
  auto answer = alice->WaitForAnswer(id);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(Str(*answer, "type"), "accepted") << json::serialize(*answer);
}

TEST_F(TerminalTest, SendWithBadPartsIsRejectedAsBadFrame) {
  auto alice = Connect(alpha_, "alice");
  json::object good = SendFrame("x", alpha_.At("alice"), bravo_.At("bob"), "hi");
  struct Case {
    std::string id;
    json::object frame;
  };
  std::vector<Case> cases;
  auto without = [&](const char* id, const char* part) {
    json::object frame = good;
    frame["id"] = id;
    frame.erase(part);
    cases.push_back({id, frame});
  };
  without("no-to", "to");
  without("no-from", "from");
  without("no-content", "content");
  json::object bad_content = good;
  bad_content["id"] = "bad-content";
  bad_content["content"] = "hi";
  cases.push_back({"bad-content", bad_content});
  json::object bad_to = good;
  bad_to["id"] = "bad-to";
  bad_to["to"] = json::object{{"platform", bravo_.id}};
  cases.push_back({"bad-to", bad_to});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    alice->SendJson(c.frame);
    auto answer = alice->WaitForAnswer(c.id);
    EXPECT_TRUE(IsFrame(answer, "rejected", "bad_frame"));
  }
  ExpectStillServing(*alice);
}

TEST_F(TerminalTest, SpoofedSenderIsSenderMismatch) {
  auto alice = Connect(alpha_, "alice");

  const std::string other_account = alice->SendText(alpha_.At("amy"), bravo_.At("bob"), "spoof");
  EXPECT_TRUE(IsFrame(alice->WaitForAnswer(other_account), "rejected", "sender_mismatch"));
  const std::string other_platform = alice->SendText(bravo_.At("alice"), bravo_.At("bob"), "spoof");
  EXPECT_TRUE(IsFrame(alice->WaitForAnswer(other_platform), "rejected", "sender_mismatch"));
}

TEST_F(TerminalTest, UnknownRecipientPlatformIsPlatformNotRegistered) {
  auto alice = Connect(alpha_, "alice");
  const std::string id = alice->SendText(alpha_.At("alice"), {"nosuchplatform", "bob"}, "hi");
  EXPECT_TRUE(IsFrame(alice->WaitForAnswer(id), "rejected", "platform_not_registered"));
}

TEST_F(TerminalTest, UnknownRecipientAccountIsRecipientNotRegistered) {
  auto alice = Connect(alpha_, "alice");
  const std::string id = alice->SendText(alpha_.At("alice"), bravo_.At("nobody"), "hi");
  EXPECT_TRUE(IsFrame(alice->WaitForAnswer(id), "rejected", "recipient_not_registered"));
}

class SmallQuotaTest : public TerminalTest {
 protected:
  std::string ConfigToml() const override {
    return "[delivery]\naccount_queue_quota = 3\n[limits]\nmax_frame_bytes = 2048\n";
  }
};

TEST_F(SmallQuotaTest, FullRecipientMailboxIsRecipientQueueFull) {
  auto alice = Connect(alpha_, "alice");
  for (int i = 0; i < 3; ++i) {
    alice->SendAccepted(alpha_.At("alice"), bravo_.At("bob"), "m" + std::to_string(i));
  }

  const std::string id = alice->SendText(alpha_.At("alice"), bravo_.At("bob"), "one too many");
  EXPECT_TRUE(IsFrame(alice->WaitForAnswer(id), "rejected", "recipient_queue_full"));
}

TEST_F(SmallQuotaTest, FrameOverConfiguredLimitIsTooLarge) {
  auto alice = Connect(alpha_, "alice");
  alice->SendJson(SendFrame("big", alpha_.At("alice"), bravo_.At("amy"), std::string(3000, 'x')));

  EXPECT_TRUE(IsFrame(alice->WaitForType("error"), "error", "too_large"));
  EXPECT_NO_THROW(alice->SendAccepted(alpha_.At("alice"), alpha_.At("amy"), "small"));
}

class ShortHelloTimeoutTest : public TerminalTest {
 protected:
  std::string ConfigToml() const override { return "[limits]\nhello_timeout_ms = 300\n"; }
};

TEST_F(ShortHelloTimeoutTest, SilentConnectionIsClosedAfterHelloTimeout) {
  Terminal silent(exchange().Port());
  EXPECT_TRUE(silent.WaitClosed(5s));
}

}  // namespace
}  // namespace sb::itest
