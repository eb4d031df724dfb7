// Fault tests with real processes (docs/durability.md): kill -9 under load, power loss, a full or
// read-only disk, a bad-frame flood, and ten thousand terminals connecting at once.
//
// SB_FAULT_KILLS sets how many crashes the crash tests go through (3 by default, the CI form;
// scripts/fault-tests.sh --full runs 20).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "crowd.h"
#include "integration/harness.h"

#ifndef SB_IO_FAULT_SHIM
#error "SB_IO_FAULT_SHIM must name the LD_PRELOAD library"
#endif

namespace sb::fault {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using itest::Address;
using itest::ExchangeProcess;
namespace json = boost::json;
using itest::Platform;
using itest::Str;
using itest::Terminal;

int Kills() {
  const char* v = std::getenv("SB_FAULT_KILLS");
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : 3;
}

// Sets an environment variable for the exchanges started meanwhile; restores it on destruction.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_.c_str()); }

 private:
  std::string name_;
};

// What the senders were told: client id -> message id, and any inconsistency seen.
class Ledger {
 public:
  void Accepted(const std::string& client_id, const std::string& message_id) {
    std::lock_guard lock(mu_);
    auto [it, fresh] = accepted_.emplace(client_id, message_id);
    if (!fresh && it->second != message_id) {
      errors_.push_back("client id " + client_id + " got " + it->second + " and " + message_id);
    }
  }
  std::map<std::string, std::string> accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> accepted_;
  std::vector<std::string> errors_;
};

// The exchange's current port, which changes at each restart; senders wait on it.
class Endpoint {
 public:
  void Set(std::uint16_t port) {
    std::lock_guard lock(mu_);
    port_ = port;
    cv_.notify_all();
  }
  void Down() { Set(0); }
  // The port once the exchange is up, or 0 after `timeout`.
  std::uint16_t Wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return port_ != 0; });
    return port_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint16_t port_ = 0;
};

// One sender: keeps a window of sends open, and after any failure reconnects and sends again,
// with the same client ids, everything not yet accepted.
class Sender {
 public:
  Sender(const Platform& from, const Address& to, std::string prefix, Endpoint& endpoint,
         Ledger& ledger)
      : from_(from), to_(to), prefix_(std::move(prefix)), endpoint_(endpoint), ledger_(ledger) {}

  void Run(const std::atomic<bool>& stop) {
    while (!(stop && unanswered_.empty())) {
      try {
        Session(stop);
      } catch (const std::exception&) {
        // The exchange went away mid-call: reconnect below.
      }
    }
  }

 private:
  static constexpr std::size_t kWindow = 16;

  void Session(const std::atomic<bool>& stop) {
    const std::uint16_t port = endpoint_.Wait(1s);
    if (port == 0) return;
    Terminal terminal(port);
    terminal.Hello(from_.Token("alice"), prefix_);
    std::set<std::string> in_flight;
    auto send = [&](const std::string& id) {
      terminal.SendJson(itest::SendFrame(id, from_.At("alice"), to_, id));
      in_flight.insert(id);
    };
    for (const std::string& id : unanswered_)
      send(id);

    for (;;) {
      while (!stop && in_flight.size() < kWindow) {
        const std::string id = prefix_ + "-" + std::to_string(next_++);
        unanswered_.push_back(id);
        send(id);
      }
      if (stop && unanswered_.empty()) return;
      auto answer = terminal.WaitFor(
          [](const json::object& f) {
            const std::string type = Str(f, "type");
            return type == "accepted" || type == "rejected";
          },
          2s);
      if (!answer) {
        if (!terminal.ws().IsOpen()) return;
        continue;
      }
      const std::string id = Str(*answer, "id");
      in_flight.erase(id);
      if (Str(*answer, "type") == "accepted") {
        ledger_.Accepted(id, Str(*answer, "message_id"));
        std::erase(unanswered_, id);
      } else {
        send(id);  // unavailable or rate_limited: the same id again
      }
    }
  }

  const Platform& from_;
  Address to_;
  std::string prefix_;
  Endpoint& endpoint_;
  Ledger& ledger_;
  std::vector<std::string> unanswered_;  // sent and not accepted yet, in order
  std::uint64_t next_ = 0;
};

class FaultTest : public ::testing::Test {
 protected:
  void StartExchange(const std::string& config = {}) {
    exchange_ = std::make_unique<ExchangeProcess>(config);
    exchange_->Start();
    api_ = std::make_unique<itest::Api>(exchange_->Port());
  }
  void TearDown() override {
    if (HasFailure() && exchange_) std::cerr << "exchange log:\n" << exchange_->Log();
  }
  Platform Register(const std::string& name, const json::array& accounts) {
    return itest::RegisterPlatform(*api_, exchange_->OperatorToken(), name, accounts);
  }

  // Runs `senders` senders from their own platforms to bob while `crash` is applied `Kills()`
  // times at random moments; then checks what bob receives against what was accepted.
  void LoadThroughCrashes(int senders, const std::function<void()>& crash) {
    Platform shop = Register("Shop", {"bob"});
    std::vector<Platform> platforms;
    for (int i = 0; i < senders; ++i)
      platforms.push_back(Register("Sender " + std::to_string(i), {"alice"}));

    Endpoint endpoint;
    endpoint.Set(exchange_->Port());
    Ledger ledger;
    std::atomic<bool> stop{false};
    std::vector<std::unique_ptr<Sender>> workers;
    std::vector<std::thread> threads;
    for (int i = 0; i < senders; ++i) {
      workers.push_back(std::make_unique<Sender>(platforms[i], shop.At("bob"),
                                                 "s" + std::to_string(i), endpoint, ledger));
      threads.emplace_back([&, i] { workers[i]->Run(stop); });
    }

    // The random moments: the load runs between 100 and 600 ms before each crash.
    std::mt19937 random(std::random_device{}());
    std::uniform_int_distribution<int> pause_ms(100, 600);
    for (int k = 0; k < Kills(); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
      endpoint.Down();
      crash();
      exchange_->Start();
      endpoint.Set(exchange_->Port());
    }
    stop = true;
    for (auto& t : threads)
      t.join();

    EXPECT_TRUE(ledger.errors().empty()) << ledger.errors().front();
    CheckBobGetsExactlyTheAccepted(shop, ledger.accepted());
  }

  void CheckBobGetsExactlyTheAccepted(const Platform& shop,
                                      const std::map<std::string, std::string>& accepted) {
    ASSERT_FALSE(accepted.empty());
    std::map<std::string, std::string> expected;  // message id -> client id (the text)
    for (const auto& [client_id, message_id] : accepted)
      expected[message_id] = client_id;

    Terminal bob(exchange_->Port());
    bob.Hello(shop.Token("bob"), "bob-device");
    std::set<std::string> seen;
    while (seen.size() < expected.size()) {
      auto message = bob.WaitForType("message", 30s);
      ASSERT_TRUE(message.has_value()) << "got " << seen.size() << " of " << expected.size();
      const std::string id = Str(*message, "message_id");
      bob.SendJson(json::object{{"type", "ack"}, {"message_id", id}});
      auto it = expected.find(id);
      ASSERT_NE(it, expected.end()) << "message " << id << " was never accepted";
      const auto& content = message->at("content").as_object();
      EXPECT_EQ(Str(content, "text"), it->second) << "message " << id;
      seen.insert(id);
    }
    // Nothing else comes (repeats of seen ids are allowed on the wire: at least once).
    while (auto extra = bob.WaitForType("message", itest::kQuietTimeout)) {
      EXPECT_TRUE(expected.contains(Str(*extra, "message_id"))) << json::serialize(*extra);
    }
    std::cout << "accepted and delivered exactly once: " << expected.size() << " messages\n";
  }

  std::unique_ptr<ExchangeProcess> exchange_;
  std::unique_ptr<itest::Api> api_;
};

TEST_F(FaultTest, KillNineUnderLoadLosesAndDuplicatesNothing) {
  StartExchange();
  LoadThroughCrashes(3, [this] { exchange_->Kill(); });
}

// Power loss: the data folder falls back to what was last synced (docs/durability.md).
TEST_F(FaultTest, PowerLossKeepsEveryAcceptedMessage) {
  const fs::path shadow = fs::temp_directory_path() / ("sb-shadow-" + std::to_string(getpid()));
  fs::create_directories(shadow);
  StartExchange();
  const fs::path data = exchange_->DataDir();
  // After a clean stop the database is synced: it is the shadow's starting point.
  exchange_->Stop();
  for (const auto& entry : fs::directory_iterator(data))
    if (entry.path().filename().string().starts_with("switchboard.db"))
      fs::copy_file(entry, shadow / entry.path().filename());
  {
    ScopedEnv preload("LD_PRELOAD", SB_IO_FAULT_SHIM);
    ScopedEnv watch("SB_SHIM_WATCH_DIR", data.string());
    ScopedEnv copy("SB_SHIM_SHADOW_DIR", shadow.string());
    exchange_->Start();
    api_ = std::make_unique<itest::Api>(exchange_->Port());
    LoadThroughCrashes(3, [&] {
      exchange_->Kill();
      // What was never synced is gone: the database files become their last synced copies.
      for (const auto& entry : fs::directory_iterator(data))
        if (entry.path().filename().string().starts_with("switchboard.db")) fs::remove(entry);
      for (const auto& entry : fs::directory_iterator(shadow))
        if (!entry.path().filename().string().ends_with(".shim-tmp"))
          fs::copy_file(entry, data / entry.path().filename());
    });
  }
  fs::remove_all(shadow);
}

// A disk that refuses writes (full, or read-only): sends are answered `unavailable`, never a false
// `accepted`, and go through once the disk takes writes again.
class DiskFaultTest : public FaultTest, public ::testing::WithParamInterface<int> {};

TEST_P(DiskFaultTest, RefusedWritesAnswerUnavailableNeverAccepted) {
  StartExchange();
  const fs::path data = exchange_->DataDir();
  const fs::path trigger = data.parent_path() / "disk-refuses-writes";
  exchange_->Stop();
  ScopedEnv preload("LD_PRELOAD", SB_IO_FAULT_SHIM);
  ScopedEnv watch("SB_SHIM_WATCH_DIR", data.string());
  ScopedEnv fail("SB_SHIM_FAIL_FILE", trigger.string());
  ScopedEnv code("SB_SHIM_FAIL_ERRNO", std::to_string(GetParam()));
  exchange_->Start();
  api_ = std::make_unique<itest::Api>(exchange_->Port());
  Platform meta = Register("Meta World", {"alice"});
  Platform shop = Register("Shop", {"bob"});
  Terminal alice(exchange_->Port());
  alice.Hello(meta.Token("alice"), "phone");

  std::map<std::string, std::string> accepted;
  const std::string before = alice.SendText(meta.At("alice"), shop.At("bob"), "before");
  auto first = alice.WaitForAnswer(before);
  ASSERT_TRUE(first.has_value() && Str(*first, "type") == "accepted");
  accepted[before] = Str(*first, "message_id");

  std::ofstream(trigger).put('x');
  std::vector<std::string> refused;
  for (int i = 0; i < 20; ++i) {
    const std::string id = "during-" + std::to_string(i);
    alice.SendText(meta.At("alice"), shop.At("bob"), id, id);
    auto answer = alice.WaitForAnswer(id);
    ASSERT_TRUE(itest::IsFrame(answer, "rejected", "unavailable"));
    refused.push_back(id);
  }

  fs::remove(trigger);
  for (const std::string& id : refused) {
    alice.SendText(meta.At("alice"), shop.At("bob"), id, id);
    auto answer = alice.WaitForAnswer(id);
    ASSERT_TRUE(answer.has_value());
    ASSERT_EQ(Str(*answer, "type"), "accepted") << json::serialize(*answer);
    accepted[id] = Str(*answer, "message_id");
  }
  std::map<std::string, std::string> by_text;
  for (const auto& [id, message_id] : accepted)
    by_text[id == before ? "before" : id] = message_id;
  exchange_->Kill();
  exchange_->Start();
  CheckBobGetsExactlyTheAccepted(shop, by_text);
}

INSTANTIATE_TEST_SUITE_P(FullOrReadOnly, DiskFaultTest, ::testing::Values(ENOSPC, EROFS),
                         [](const auto& info) {
                           return std::string(info.param == ENOSPC ? "DiskFull" : "ReadOnly");
                         });

// The bound on other clients' latency while one client floods bad frames: p99 of a send's round
// trip under 500 ms on a two-core machine. A guard against starvation, not a benchmark. The
// per-connection frame rate is one that the flooder outpaces even under sanitizers on a loaded
// machine, and that the measured client's 300 sends stay within.
TEST_F(FaultTest, BadFrameFloodKeepsOthersP99UnderBound) {
  constexpr auto kP99Bound = 500ms;
  StartExchange(
      "[limits]\nconnection_frame_rate = 1000\nconnection_frame_burst = 1000\n"
      "connection_flood_close = 200\n[store]\ndurable = false\n");
  Platform meta = Register("Meta World", {"alice", "mallory"});
  Platform shop = Register("Shop", {"bob"});

  std::atomic<bool> stop{false};
  std::thread flooder([&] {
    const std::string garbage(200, '{');
    while (!stop) {
      try {
        Terminal mallory(exchange_->Port());
        mallory.Hello(meta.Token("mallory"), "flood");
        while (!stop)
          mallory.SendRaw(garbage);
      } catch (const std::exception&) {
        // Closed for flooding: come back and flood again.
      }
    }
  });

  std::vector<std::chrono::microseconds> latencies;
  try {
    Terminal alice(exchange_->Port());
    alice.Hello(meta.Token("alice"), "phone");
    for (int i = 0; i < 300; ++i) {
      const auto start = std::chrono::steady_clock::now();
      alice.SendAccepted(meta.At("alice"), shop.At("bob"), "m" + std::to_string(i));
      latencies.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start));
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the measured client failed after " << latencies.size()
                  << " sends: " << e.what();
  }
  // The measured sends may finish before the flooder first reaches the close threshold: let it
  // flood until the exchange has closed it at least once (bounded), then stop it.
  itest::Api api(exchange_->Port());
  double disconnects = 0;
  for (int poll = 0; poll < 1500 && disconnects < 1; ++poll) {
    disconnects = itest::MetricValue(api.Call("GET", "/metrics", {}).raw,
                                     "switchboard_flood_disconnects_total");
    if (disconnects < 1) std::this_thread::sleep_for(20ms);
  }
  stop = true;
  flooder.join();
  ASSERT_EQ(latencies.size(), 300u);

  std::sort(latencies.begin(), latencies.end());
  const auto p99 = latencies[latencies.size() * 99 / 100];
  std::cout << "p99 send round trip under flood: " << p99.count() << " us\n";
  EXPECT_LT(p99, kP99Bound);
  EXPECT_GE(disconnects, 1) << "the flood never reached the close threshold";
}

TEST_F(FaultTest, TenThousandTerminalsConnectingAtOnceAllGetIn) {
  constexpr int kTerminals = 10000;
  ASSERT_GE(RaiseOpenFileLimit(), static_cast<std::size_t>(kTerminals + 1000));
  // 50 source addresses keep each under the per-address connection limit (256 by default); the
  // total limit leaves room for the test's own API connection.
  constexpr int kSources = 50;
  StartExchange("[limits]\nhello_timeout_ms = 120000\nmax_connections = 10100\n");
  json::array accounts;
  for (int i = 0; i < kTerminals; ++i)
    accounts.emplace_back("u" + std::to_string(i));
  Platform crowd = Register("Crowd", accounts);

  std::vector<std::string> hellos;
  hellos.reserve(kTerminals);
  for (int i = 0; i < kTerminals; ++i) {
    hellos.push_back(json::serialize(json::object{
        {"type", "hello"}, {"token", crowd.Token("u" + std::to_string(i))}, {"device", "d"}}));
  }
  const CrowdResult result = ConnectCrowd(exchange_->Port(), hellos, kSources, 120s);
  std::cout << result.reconnects << " terminals reconnected after the kernel refused them\n";
  EXPECT_EQ(result.welcomed, static_cast<std::size_t>(kTerminals)) << result.failed << " failed";
  // Reconnects are for handshakes the kernel dropped: the exchange itself turned no one away.
  itest::Api api(exchange_->Port());
  EXPECT_EQ(
      itest::MetricValue(api.Call("GET", "/metrics", {}).raw, "switchboard_listener_refused_total"),
      0);
}

}  // namespace
}  // namespace sb::fault
