// The Terminal's logic against an in-memory exchange: hello, identity on sends, re-sends after a
// reconnect, dropping redeliveries, acks, typed errors.
#include "client/terminal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fake_exchange.h"

namespace sb::client {
namespace {

using testing::FakeExchange;
using testing::kGuard;
using testing::MessageFrame;
using testing::Welcome;
namespace json = boost::json;

class TerminalTest : public ::testing::Test {
 protected:
  TerminalOptions Options(AckMode ack_mode = AckMode::kAutomatic) {
    TerminalOptions options;
    options.url = "ws://127.0.0.1:9/v1/terminal";
    options.token = "token-1";
    options.device = "phone";
    options.ack_mode = ack_mode;
    options.backoff_initial = std::chrono::milliseconds(1);
    options.backoff_max = std::chrono::milliseconds(5);
    options.poll_interval = std::chrono::milliseconds(5);
    options.client_id_prefix = "t";
    options.transport_factory = exchange_.Factory();
    return options;
  }

  // The next event of type T from a poll-mode terminal, skipping others.
  template <typename T>
  std::optional<T> NextOf(Terminal& terminal) {
    while (auto event = terminal.Next(kGuard)) {
      if (auto* wanted = std::get_if<T>(&*event)) return *wanted;
    }
    return std::nullopt;
  }

  // Starts `terminal` and completes hello as alice@home.
  void Connect(Terminal& terminal) {
    terminal.Start();
    ASSERT_TRUE(exchange_.WaitWrittenType("hello"));
    exchange_.Push(Welcome("home", "alice"));
  }

  static auto IsSend(const std::string& id) {
    return
        [id](const json::object& f) { return f.at("type") == "send" && f.at("id") == id.c_str(); };
  }
  static auto IsAck(const std::string& message_id) {
    return [message_id](const json::object& f) {
      return f.at("type") == "ack" && f.at("message_id") == message_id.c_str();
    };
  }

  FakeExchange exchange_;
};

TEST_F(TerminalTest, SaysHelloAndSendsAsTheWelcomedIdentity) {
  Terminal terminal(Options());
  terminal.Start();
  auto hello = exchange_.WaitWrittenType("hello");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->at("token"), "token-1");
  EXPECT_EQ(hello->at("device"), "phone");

  // Queued before the welcome: written after it, with the welcomed identity as sender.
  auto id = terminal.SendText(Address{"other", "bob"}, "hi");
  ASSERT_TRUE(id.ok());
  exchange_.Push(Welcome("home", "alice"));
  auto connected = NextOf<Connected>(terminal);
  ASSERT_TRUE(connected);
  EXPECT_FALSE(connected->resumed);
  EXPECT_EQ(connected->platform_name, "Platform home");

  auto send = exchange_.WaitWritten(IsSend(id.value()));
  ASSERT_TRUE(send);
  EXPECT_EQ(send->at("from").at("platform"), "home");
  EXPECT_EQ(send->at("from").at("account"), "alice");
  EXPECT_EQ(send->at("to").at("account"), "bob");
  EXPECT_EQ(send->at("content").at("text"), "hi");

  exchange_.Push({{"type", "accepted"}, {"id", id.value()}, {"message_id", "m1"}, {"ts", 7}});
  auto accepted = NextOf<Accepted>(terminal);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->message_id, "m1");
  EXPECT_EQ(terminal.PendingSends(), 0u);
}

TEST_F(TerminalTest, ResendsUnansweredSendsWithTheSameClientIdsAfterReconnect) {
  Terminal terminal(Options());
  Connect(terminal);
  auto first = terminal.SendText(Address{"other", "bob"}, "one");
  auto second = terminal.SendText(Address{"other", "bob"}, "two");
  ASSERT_TRUE(exchange_.WaitWritten(IsSend(second.value())));

  // The first is answered, then the connection is lost before the second's answer.
  exchange_.Push({{"type", "accepted"}, {"id", first.value()}, {"message_id", "m1"}, {"ts", 1}});
  ASSERT_TRUE(NextOf<Accepted>(terminal));
  exchange_.Drop();
  ASSERT_TRUE(NextOf<Disconnected>(terminal));

  ASSERT_TRUE(exchange_.WaitWrittenType("hello"));
  exchange_.Push(Welcome("home", "alice"));
  auto resumed = NextOf<Connected>(terminal);
  ASSERT_TRUE(resumed);
  EXPECT_TRUE(resumed->resumed);
  ASSERT_TRUE(exchange_.WaitWritten(IsSend(second.value())));
  exchange_.Push({{"type", "accepted"},
                  {"id", second.value()},
                  {"message_id", "m2"},
                  {"ts", 2},
                  {"duplicate", true}});
  auto accepted = NextOf<Accepted>(terminal);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->client_id, second.value());
  EXPECT_TRUE(accepted->duplicate);

  // The first went out once; the second twice, under one id.
  EXPECT_EQ(exchange_.AllWritten("send").size(), 3u);
  EXPECT_EQ(terminal.Stats().resends, 1u);
  EXPECT_EQ(terminal.Stats().connection_losses, 1u);
  EXPECT_EQ(terminal.PendingSends(), 0u);
}

TEST_F(TerminalTest, KeepsSendOrderAcrossReconnects) {
  Terminal terminal(Options());
  Connect(terminal);
  ASSERT_TRUE(NextOf<Connected>(terminal));
  exchange_.Drop();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(terminal.SendText(Address{"other", "bob"}, std::to_string(i)).value());
  ASSERT_TRUE(exchange_.WaitWrittenType("hello"));
  exchange_.Push(Welcome("home", "alice"));
  for (const std::string& id : ids)
    ASSERT_TRUE(exchange_.WaitWritten(IsSend(id))) << id;
}

TEST_F(TerminalTest, PassesEachMessageOnOnceAndAcksRedeliveries) {
  Terminal terminal(Options());
  Connect(terminal);
  exchange_.Push(MessageFrame("m1", "a"));
  exchange_.Push(MessageFrame("m2", "b"));
  auto m1 = NextOf<Message>(terminal);
  auto m2 = NextOf<Message>(terminal);
  ASSERT_TRUE(m1 && m2);
  EXPECT_EQ(m1->text, "a");
  EXPECT_EQ(m1->from_platform_name, "Other");
  EXPECT_EQ(m2->message_id, "m2");
  ASSERT_TRUE(exchange_.WaitWritten(IsAck("m2")));

  // The exchange offers both again after a reconnect, then a new one.
  exchange_.Drop();
  ASSERT_TRUE(exchange_.WaitWrittenType("hello"));
  exchange_.Push(Welcome("home", "alice"));
  exchange_.Push(MessageFrame("m1", "a"));
  exchange_.Push(MessageFrame("m2", "b"));
  exchange_.Push(MessageFrame("m3", "c"));
  auto m3 = NextOf<Message>(terminal);
  ASSERT_TRUE(m3);
  EXPECT_EQ(m3->message_id, "m3");
  EXPECT_TRUE(exchange_.WaitWritten(IsAck("m1")));
  EXPECT_TRUE(exchange_.WaitWritten(IsAck("m2")));
  EXPECT_EQ(terminal.Stats().duplicates_dropped, 2u);
}

TEST_F(TerminalTest, ExplicitModeAcksOnlyWhenTheApplicationDoes) {
  Terminal terminal(Options(AckMode::kExplicit));
  Connect(terminal);
  exchange_.Push(MessageFrame("m1", "a"));
  exchange_.Push(MessageFrame("m1", "a"));
  exchange_.Push(MessageFrame("m2", "b"));
  auto m1 = NextOf<Message>(terminal);
  auto m2 = NextOf<Message>(terminal);
  ASSERT_TRUE(m1 && m2);
  EXPECT_EQ(m2->message_id, "m2");  // the repeat of m1 was not passed on
  EXPECT_TRUE(exchange_.AllWritten("ack").empty());

  terminal.Ack("m2");
  ASSERT_TRUE(exchange_.WaitWritten(IsAck("m2")));
  EXPECT_EQ(exchange_.AllWritten("ack").size(), 1u);
}

TEST_F(TerminalTest, HandlerModeAcksAfterTheHandlerReturned) {
  std::atomic<bool> in_handler{false};
  std::atomic<int> acks_seen_in_handler{0};
  Terminal* self = nullptr;
  Terminal terminal(Options(), [&](const Event& event) {
    if (std::holds_alternative<Message>(event)) {
      in_handler = true;
      acks_seen_in_handler = static_cast<int>(exchange_.AllWritten("ack").size());
      // The handler may send; it runs on the I/O thread.
      (void)self->SendText(Address{"other", "bob"}, "reply");
      in_handler = false;
    }
  });
  self = &terminal;
  Connect(terminal);
  exchange_.Push(MessageFrame("m1", "a"));
  ASSERT_TRUE(exchange_.WaitWritten(IsAck("m1")));
  EXPECT_EQ(acks_seen_in_handler, 0);
  ASSERT_TRUE(exchange_.WaitWritten(IsSend("t-1")));
}

TEST_F(TerminalTest, RejectionsCarryTypedCodes) {
  Terminal terminal(Options());
  Connect(terminal);
  auto a = terminal.SendText(Address{"other", "nobody"}, "x").value();
  auto b = terminal.SendText(Address{"other", "bob"}, "y").value();
  ASSERT_TRUE(exchange_.WaitWritten(IsSend(b)));
  exchange_.Push({{"type", "rejected"},
                  {"id", a},
                  {"code", "recipient_not_registered"},
                  {"message", "no such account"}});
  exchange_.Push({{"type", "rejected"}, {"id", b}, {"code", "from_the_future"}, {"message", "?"}});

  auto first = NextOf<Rejected>(terminal);
  auto second = NextOf<Rejected>(terminal);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->error.code, ErrorCode::kRecipientNotRegistered);
  EXPECT_EQ(first->error.name, "recipient_not_registered");
  EXPECT_EQ(second->error.code, ErrorCode::kInternal);
  EXPECT_EQ(second->error.name, "from_the_future");
  EXPECT_EQ(terminal.PendingSends(), 0u);
}

TEST_F(TerminalTest, ARefusedTokenEndsTheTerminal) {
  Terminal terminal(Options());
  terminal.Start();
  ASSERT_TRUE(exchange_.WaitWrittenType("hello"));
  exchange_.Push({{"type", "error"}, {"code", "token_expired"}, {"message", "old"}});
  auto lost = NextOf<Disconnected>(terminal);
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->will_retry);
  EXPECT_EQ(lost->reason.code, ErrorCode::kTokenExpired);
  auto send = terminal.SendText(Address{"other", "bob"}, "x");
  ASSERT_FALSE(send.ok());
  EXPECT_EQ(send.error().code, ErrorCode::kUnavailable);
}

TEST_F(TerminalTest, RetriesFailedConnectionsWithBackoff) {
  exchange_.RefuseConnections(3);
  Terminal terminal(Options());
  terminal.Start();
  for (int i = 0; i < 3; ++i) {
    auto lost = NextOf<Disconnected>(terminal);
    ASSERT_TRUE(lost);
    EXPECT_TRUE(lost->will_retry);
    EXPECT_EQ(lost->reason.code, ErrorCode::kUnavailable);
  }
  ASSERT_TRUE(exchange_.WaitWrittenType("hello"));
  exchange_.Push(Welcome("home", "alice"));
  EXPECT_TRUE(NextOf<Connected>(terminal));
}

TEST_F(TerminalTest, RefusesInvalidSendsLocally) {
  Terminal terminal(Options());
  EXPECT_EQ(terminal.SendText(Address{"X", "bob"}, "x").error().code, ErrorCode::kBadFrame);
  EXPECT_EQ(terminal.SendText(Address{"other", "two words"}, "x").error().code,
            ErrorCode::kBadFrame);
  EXPECT_EQ(terminal.Send(Address{"other", "bob"}, R"({"type":"video"})").error().code,
            ErrorCode::kBadFrame);
  EXPECT_TRUE(terminal.Send(Address{"other", "bob"}, R"({"type":"app","app":"vr.pose"})").ok());
}

TEST_F(TerminalTest, RefusesUnusableOptions) {
  TerminalOptions options = Options();
  options.url = "http://example.org/v1/terminal";
  EXPECT_THROW(Terminal{options}, std::invalid_argument);
  options.url = "ftp://example.org/v1/terminal";
  EXPECT_THROW(Terminal{options}, std::invalid_argument);
  options.url = "wss://example.org/v1/terminal";  // TLS: accepted, checked when connecting
  EXPECT_NO_THROW(Terminal{options});
  options = Options();
  options.token.clear();
  EXPECT_THROW(Terminal{options}, std::invalid_argument);
  options = Options();
  options.device = "has space";
  EXPECT_THROW(Terminal{options}, std::invalid_argument);
}

TEST_F(TerminalTest, ReadAndLocationAreWritten) {
  Terminal terminal(Options());
  Connect(terminal);
  terminal.Read("m9");
  terminal.ReportLocation("tai-1", "cell-2");
  auto read = exchange_.WaitWrittenType("read");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->at("message_id"), "m9");
  auto location = exchange_.WaitWrittenType("location");
  ASSERT_TRUE(location);
  EXPECT_EQ(location->at("cell"), "cell-2");
}

}  // namespace
}  // namespace sb::client
