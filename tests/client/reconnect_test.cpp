// The client library against the real exchange binary: a terminal whose connection is cut while
// messages flow to it still hands the application each message exactly once, in order; a sender
// whose answer is lost re-sends under the same client id and learns of the first acceptance.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>

#include "client/terminal.h"
#include "integration/harness.h"

namespace sb::client {
namespace {

using namespace std::chrono_literals;
namespace itest = sb::itest;
namespace json = boost::json;

// Long enough never to end a passing test; it only bounds how long a failing one hangs.
constexpr std::chrono::seconds kGuard{30};

// What a test tells its transports: cut the connection at the next chance, or when a frame of
// some type arrives (before the terminal sees it).
struct Cutter {
  std::atomic<int> cut_now{0};
  std::atomic<int> cut_on_arrival{0};
  std::string arrival_type;  // set before the terminal starts
  std::atomic<int> cuts{0};
};

// A WebSocket transport that a Cutter can break. Cutting destroys the WebSocket client, which
// closes the socket without a closing handshake: the exchange sees the connection vanish.
class CuttableTransport final : public Transport {
 public:
  CuttableTransport(std::shared_ptr<Cutter> cutter)
      : cutter_(std::move(cutter)), inner_(MakeWebSocketTransport(5s)) {}

  void Connect(const std::string& host, std::uint16_t port, const std::string& path) override {
    inner_->Connect(host, port, path);
  }
  void Send(std::string_view text) override {
    MaybeCut();
    if (!inner_) throw std::runtime_error("cut");
    inner_->Send(text);
  }
  std::optional<std::string> Receive(std::chrono::milliseconds timeout) override {
    MaybeCut();
    if (!inner_) return std::nullopt;
    auto text = inner_->Receive(timeout);
    if (text && !cutter_->arrival_type.empty() &&
        text->find("\"type\":\"" + cutter_->arrival_type + "\"") != std::string::npos &&
        Take(cutter_->cut_on_arrival)) {
      Cut();
      return std::nullopt;
    }
    return text;
  }
  bool IsOpen() const override { return inner_ && inner_->IsOpen(); }
  void Close() override {
    if (inner_) inner_->Close();
  }

 private:
  static bool Take(std::atomic<int>& counter) {
    int n = counter.load();
    while (n > 0 && !counter.compare_exchange_weak(n, n - 1)) {
    }
    return n > 0;
  }
  void MaybeCut() {
    if (inner_ && Take(cutter_->cut_now)) Cut();
  }
  void Cut() {
    inner_.reset();
    ++cutter_->cuts;
  }

  std::shared_ptr<Cutter> cutter_;
  std::unique_ptr<Transport> inner_;
};

// Collects what a handler-mode terminal passes on, for a test thread to wait on.
class Inbox {
 public:
  void Add(const Message& message) {
    std::lock_guard lock(mu_);
    texts_.push_back(message.text.value_or("<app>"));
    changed_.notify_all();
  }
  // Waits until a message with `text` has arrived; false when the guard ran out first.
  bool WaitFor(const std::string& text) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, kGuard, [&] {
      return std::find(texts_.begin(), texts_.end(), text) != texts_.end();
    });
  }
  std::vector<std::string> Texts() {
    std::lock_guard lock(mu_);
    return texts_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> texts_;
};

std::vector<std::string> Missing(const std::vector<std::string>& all,
                                 const std::set<std::string>& got) {
  std::vector<std::string> out;
  for (const std::string& id : all) {
    if (got.count(id) == 0) out.push_back(id);
  }
  return out;
}

class ReconnectTest : public itest::IntegrationTest {
 protected:
  TerminalOptions OptionsFor(const itest::Platform& platform, const std::string& account,
                             std::shared_ptr<Cutter> cutter = nullptr) {
    TerminalOptions options;
    options.url = "ws://127.0.0.1:" + std::to_string(exchange().Port()) + "/v1/terminal";
    options.token = platform.Token(account);
    options.device = account + "-device";
    options.backoff_initial = 20ms;
    options.backoff_max = 200ms;
    options.poll_interval = 5ms;
    if (cutter)
      options.transport_factory = [cutter] { return std::make_unique<CuttableTransport>(cutter); };
    return options;
  }

  // The next event of type T from a poll-mode terminal, skipping others.
  template <typename T>
  static std::optional<T> NextOf(Terminal& terminal) {
    while (auto event = terminal.Next(kGuard)) {
      if (auto* wanted = std::get_if<T>(&*event)) return *wanted;
    }
    return std::nullopt;
  }
};

TEST_F(ReconnectTest, EachMessageIsSeenOnceInOrderAcrossLostConnections) {
  itest::Platform alpha = Register("Alpha", json::array{"alice"});
  itest::Platform beta = Register("Beta", json::array{"bob"});
  const Address bob{beta.id, "bob"};

  // bob's connection is cut inside the handler of the 5th and the 12th message, before the
  // library acks them: the exchange must offer them again, and the library must drop the repeats.
  auto cutter = std::make_shared<Cutter>();
  Inbox inbox;
  std::atomic<int> handled{0};
  Terminal receiver(OptionsFor(beta, "bob", cutter), [&](const Event& event) {
    const auto* message = std::get_if<Message>(&event);
    if (message == nullptr) return;
    inbox.Add(*message);
    const int n = ++handled;
    if (n == 5 || n == 12) ++cutter->cut_now;
  });
  receiver.Start();

  Terminal sender(OptionsFor(alpha, "alice"));
  sender.Start();
  std::vector<std::string> expected;
  std::vector<std::string> client_ids;
  for (int i = 0; i < 20; ++i) {
    expected.push_back("m" + std::to_string(i));
    auto id = sender.SendText(bob, expected.back());
    ASSERT_TRUE(id.ok());
    client_ids.push_back(id.value());
  }
  // A last message, sent once all before it were accepted: anything offered again would reach
  // bob before it. Receipts that come meanwhile are kept for the end.
  std::set<std::string> delivered;
  auto note = [&delivered](const Event& event) {
    if (const auto* r = std::get_if<Receipt>(&event); r && r->status == ReceiptStatus::kDelivered)
      delivered.insert(r->client_id);
  };
  for (int accepted = 0; accepted < 20;) {
    auto event = sender.Next(kGuard);
    ASSERT_TRUE(event) << accepted << " accepted";
    note(*event);
    accepted += std::holds_alternative<Accepted>(*event) ? 1 : 0;
  }
  auto end_id = sender.SendText(bob, "end");
  ASSERT_TRUE(end_id.ok());
  client_ids.push_back(end_id.value());
  expected.push_back("end");

  ASSERT_TRUE(inbox.WaitFor("end")) << ::testing::PrintToString(inbox.Texts());
  EXPECT_EQ(inbox.Texts(), expected);
  const TerminalStats stats = receiver.Stats();
  EXPECT_EQ(cutter->cuts.load(), 2);
  EXPECT_GE(stats.connection_losses, 2u);
  EXPECT_GE(stats.connects, 3u);
  // At least the two messages whose acks were cut came back, and were dropped.
  EXPECT_GE(stats.duplicates_dropped, 2u);

  // Every message was acked in the end: alice hears "delivered" for all 21.
  while (delivered.size() < client_ids.size()) {
    auto event = sender.Next(kGuard);
    ASSERT_TRUE(event) << "no receipt for "
                       << ::testing::PrintToString(Missing(client_ids, delivered));
    note(*event);
  }
}

TEST_F(ReconnectTest, ALostAcceptanceIsRecoveredByResendingUnderTheSameId) {
  itest::Platform alpha = Register("Alpha", json::array{"alice"});
  itest::Platform beta = Register("Beta", json::array{"bob"});

  // The first `accepted` alice's terminal receives is lost with its connection.
  auto cutter = std::make_shared<Cutter>();
  cutter->arrival_type = "accepted";
  cutter->cut_on_arrival = 1;
  Terminal sender(OptionsFor(alpha, "alice", cutter));
  sender.Start();
  auto id = sender.SendText(Address{beta.id, "bob"}, "only once");
  ASSERT_TRUE(id.ok());

  auto accepted = NextOf<Accepted>(sender);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->client_id, id.value());
  EXPECT_TRUE(accepted->duplicate);
  EXPECT_EQ(cutter->cuts.load(), 1);
  EXPECT_EQ(sender.Stats().resends, 1u);

  // bob finds it once, followed by a later one.
  ASSERT_TRUE(sender.SendText(Address{beta.id, "bob"}, "after").ok());
  Inbox inbox;
  Terminal receiver(OptionsFor(beta, "bob"), [&](const Event& event) {
    if (const auto* message = std::get_if<Message>(&event)) inbox.Add(*message);
  });
  receiver.Start();
  ASSERT_TRUE(inbox.WaitFor("after"));
  EXPECT_EQ(inbox.Texts(), (std::vector<std::string>{"only once", "after"}));
}

TEST_F(ReconnectTest, RecipientOfAnotherPlatformMustExist) {
  itest::Platform alpha = Register("Alpha", json::array{"alice"});
  itest::Platform beta = Register("Beta", json::array{"bob"});
  Terminal sender(OptionsFor(alpha, "alice"));
  sender.Start();
  auto id = sender.SendText(Address{beta.id, "nobody"}, "hello?");
  ASSERT_TRUE(id.ok());
  auto rejected = NextOf<Rejected>(sender);
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->client_id, id.value());
  EXPECT_EQ(rejected->error.code, ErrorCode::kRecipientNotRegistered);
}

}  // namespace
}  // namespace sb::client
