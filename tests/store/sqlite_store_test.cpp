#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_db.h"
#include "support/test_loop.h"

namespace sb::store {
namespace {

using namespace std::chrono_literals;

using sb::testing::TempDir;

// Holds the writer thread inside a completion until Release(), so that whatever the test submits
// meanwhile queues up and forms the next batch. The completion keeps its own references to the
// shared state, so it stays valid even if the gate is destroyed first.
class WriterGate {
 public:
  ~WriterGate() { Release(); }

  Completion Hold() {
    return [entered = entered_, released = released_](const Status&) {
      entered->set_value();
      released.wait();
    };
  }
  void WaitUntilHeld() { entered_future_.wait(); }
  void Release() {
    if (!is_released_) {
      is_released_ = true;
      release_.set_value();
    }
  }

 private:
  std::shared_ptr<std::promise<void>> entered_ = std::make_shared<std::promise<void>>();
  std::future<void> entered_future_ = entered_->get_future();
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  bool is_released_ = false;
};

// Counts rows on a connection of its own, as another process would see the file.
std::int64_t CountRows(const std::string& path, const std::string& sql) {
  Database db(path);
  Statement query(db, sql);
  return query.NextRow() ? query.Int(0) : -1;
}

PlatformRecord MakePlatform(const std::string& id) {
  return PlatformRecord{id, "Platform " + id, "hash-" + id, R"({"keys":[]})", "", 1000, 0};
}

std::vector<AccountRecord> MakeAccounts(const std::string& prefix, int count) {
  std::vector<AccountRecord> accounts;
  accounts.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    accounts.push_back(AccountRecord{prefix + std::to_string(i), true});
  }
  return accounts;
}

StoredMessage MakeMessage(const std::string& id, const Address& from, const Address& to,
                          std::int64_t expires_ms = 10'000'000) {
  StoredMessage stored;
  stored.message.message_id = id;
  stored.message.ts_ms = 5000;
  stored.message.from = from;
  stored.message.to = to;
  stored.message.from_device = "phone";
  stored.message.client_id = "c-" + id;
  stored.message.content_json = R"({"type":"text","text":"hi )" + id + R"("})";
  stored.message.app = kChatApplication;
  stored.message.route = Route{"edge-1", "dnai-1", "ulcl-1", "psa-1"};
  stored.expires_ms = expires_ms;
  return stored;
}

auto Tie(const PlatformRecord& p) {
  return std::tie(p.id, p.name, p.key_hash, p.jwks_json, p.offload_policy_json, p.created_ms,
                  p.deregistered_ms);
}

auto Tie(const SessionMessage& m) {
  return std::tie(m.message_id, m.ts_ms, m.from.platform, m.from.account, m.to.platform,
                  m.to.account, m.from_device, m.client_id, m.content_json, m.app, m.route.site,
                  m.route.dnai, m.route.ulcl, m.route.psa);
}

std::vector<std::string> MessageIds(const Snapshot& snapshot) {
  std::vector<std::string> ids;
  for (const StoredMessage& m : snapshot.messages) {
    ids.push_back(m.message.message_id);
  }
  return ids;
}

std::vector<std::string> AccountNames(const Snapshot& snapshot, const std::string& platform) {
  std::vector<std::string> names;
  for (const auto& [pid, account] : snapshot.accounts) {
    if (pid == platform) {
      names.push_back(account.account);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> DeviceNames(const Snapshot& snapshot) {
  std::vector<std::string> names;
  for (const DeviceRecord& d : snapshot.devices) {
    names.push_back(d.address.ToString() + "/" + d.device);
  }
  std::sort(names.begin(), names.end());
  return names;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  SqliteStoreTest() { store_ = Open(); }

  SqliteOptions Options() const {
    SqliteOptions options;
    options.path = path_;
    return options;
  }
  std::unique_ptr<Store> Open(const SqliteOptions& options) {
    return OpenSqliteStore(options, metrics_);
  }
  std::unique_ptr<Store> Open() { return Open(Options()); }

  // Closes the store, opens the file again and reads it back.
  Snapshot Reopen() {
    store_.reset();
    store_ = Open();
    return store_->Load();
  }

  // Submits one mutation and waits for its completion; Flush() orders the completion's write
  // before the read here.
  Status Apply(Mutation mutation) {
    std::optional<Status> result;
    store_->Submit(std::move(mutation), [&result](Status s) { result = std::move(s); });
    store_->Flush();
    return result.value_or(MakeError(ErrorCode::kInternal, "completion did not run"));
  }
  void ApplyOk(Mutation mutation) {
    const Status status = Apply(std::move(mutation));
    ASSERT_TRUE(status.ok()) << status.error().message;
  }

  Counter& FailedBatches() {
    return metrics_.GetCounter("switchboard_store_failed_batches_total", "");
  }
  Counter& Commits() { return metrics_.GetCounter("switchboard_store_commits_total", ""); }
  Counter& Mutations() { return metrics_.GetCounter("switchboard_store_mutations_total", ""); }

  TempDir dir_;
  std::string path_ = (dir_.path() / "store.db").string();
  MetricsRegistry metrics_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteStoreTest, EmptyStoreLoadsEmptySnapshot) {
  const Snapshot snapshot = store_->Load();
  EXPECT_TRUE(snapshot.platforms.empty());
  EXPECT_TRUE(snapshot.accounts.empty());
  EXPECT_TRUE(snapshot.messages.empty());
  EXPECT_EQ(store_->QueueDepth(), 0u);
}

TEST_F(SqliteStoreTest, PlatformWithAccountsSurvivesReopen) {
  PlatformRecord platform = MakePlatform("p1");
  platform.offload_policy_json = R"({"kind":"location"})";
  ApplyOk(PutPlatform{platform, {{"alice", true}, {"bob", false}}});

  const Snapshot snapshot = Reopen();

  ASSERT_EQ(snapshot.platforms.size(), 1u);
  EXPECT_EQ(Tie(snapshot.platforms[0]), Tie(platform));
  ASSERT_EQ(snapshot.accounts.size(), 2u);
  for (const auto& [pid, account] : snapshot.accounts) {
    EXPECT_EQ(pid, "p1");
    EXPECT_EQ(account.discoverable, account.account == "alice") << account.account;
  }
}

TEST_F(SqliteStoreTest, JwksAndPolicyUpdatesSurviveReopen) {
  ApplyOk(PutPlatform{MakePlatform("p1"), {}});
  ApplyOk(PutPlatform{MakePlatform("p2"), {}});
  ApplyOk(SetPlatformJwks{"p1", R"({"keys":[{"kid":"k2"}]})"});
  ApplyOk(SetPlatformPolicy{"p1", R"({"kind":"exposure"})"});
  ApplyOk(SetPlatformPolicy{"p2", R"({"kind":"location"})"});
  ApplyOk(SetPlatformPolicy{"p2", ""});

  const Snapshot snapshot = Reopen();

  ASSERT_EQ(snapshot.platforms.size(), 2u);
  const PlatformRecord& p1 =
      snapshot.platforms[0].id == "p1" ? snapshot.platforms[0] : snapshot.platforms[1];
  const PlatformRecord& p2 =
      snapshot.platforms[0].id == "p1" ? snapshot.platforms[1] : snapshot.platforms[0];
  EXPECT_EQ(p1.jwks_json, R"({"keys":[{"kid":"k2"}]})");
  EXPECT_EQ(p1.offload_policy_json, R"({"kind":"exposure"})");
  EXPECT_EQ(p2.jwks_json, R"({"keys":[]})");
  EXPECT_EQ(p2.offload_policy_json, "");
}

TEST_F(SqliteStoreTest, DeregisterKeepsTheIdAndRemovesWhatBelongsToThePlatform) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  ApplyOk(PutPlatform{MakePlatform("p1"), {{"alice", true}}});
  ApplyOk(PutPlatform{MakePlatform("p2"), {{"bob", true}}});
  ApplyOk(PutDevice{{alice, "phone", 100}});
  ApplyOk(PutDevice{{bob, "laptop", 100}});
  ApplyOk(AppendMessage{MakeMessage("to-alice", bob, alice), 9000});
  ApplyOk(AppendMessage{MakeMessage("to-bob", alice, bob), 9000});
  ApplyOk(AckMessage{"to-alice", "phone"});
  ApplyOk(AckMessage{"to-bob", "laptop"});

  ApplyOk(DeregisterPlatform{"p1", 7777});
  const Snapshot snapshot = Reopen();

  // The id stays reserved; its accounts, devices, messages to it and dedup records are gone.
  ASSERT_EQ(snapshot.platforms.size(), 2u);
  for (const PlatformRecord& p : snapshot.platforms) {
    EXPECT_EQ(p.deregistered_ms, p.id == "p1" ? 7777 : 0) << p.id;
  }
  EXPECT_TRUE(AccountNames(snapshot, "p1").empty());
  EXPECT_EQ(AccountNames(snapshot, "p2"), std::vector<std::string>{"bob"});
  EXPECT_EQ(DeviceNames(snapshot), std::vector<std::string>{"bob@p2/laptop"});
  EXPECT_EQ(MessageIds(snapshot), std::vector<std::string>{"to-bob"});
  ASSERT_EQ(snapshot.dedup.size(), 1u);
  EXPECT_EQ(snapshot.dedup[0].sender, bob);
  EXPECT_EQ(CountRows(path_, "SELECT count(*) FROM message_acks WHERE message_id = 'to-alice'"), 0);
  EXPECT_EQ(snapshot.messages[0].acked_devices, std::vector<std::string>{"laptop"});
}

TEST_F(SqliteStoreTest, ChangeAccountsAddsUpdatesAndRemovesWithCascade) {
  const Address alice{"p1", "alice"};
  const Address carol{"p1", "carol"};
  const Address other_alice{"p2", "alice"};  // same account name on another platform: untouched
  ApplyOk(PutPlatform{MakePlatform("p1"), {{"alice", true}, {"carol", true}}});
  ApplyOk(PutPlatform{MakePlatform("p2"), {{"alice", true}}});
  ApplyOk(PutDevice{{alice, "phone", 100}});
  ApplyOk(PutDevice{{carol, "phone", 100}});
  ApplyOk(PutDevice{{other_alice, "phone", 100}});
  ApplyOk(AppendMessage{MakeMessage("to-alice", other_alice, alice), 9000});
  ApplyOk(AppendMessage{MakeMessage("to-carol", other_alice, carol), 9000});
  ApplyOk(AppendMessage{MakeMessage("to-other-alice", alice, other_alice), 9000});
  ApplyOk(AckMessage{"to-alice", "phone"});
  ApplyOk(AckMessage{"to-other-alice", "phone"});

  ApplyOk(ChangeAccounts{"p1", {{"dave", false}, {"carol", false}}, {"alice", "nobody"}});
  const Snapshot snapshot = Reopen();

  EXPECT_EQ(AccountNames(snapshot, "p1"), (std::vector<std::string>{"carol", "dave"}));
  EXPECT_EQ(AccountNames(snapshot, "p2"), std::vector<std::string>{"alice"});
  for (const auto& [pid, account] : snapshot.accounts) {
    EXPECT_EQ(account.discoverable, pid == "p2") << account.account;
  }
  EXPECT_EQ(DeviceNames(snapshot), (std::vector<std::string>{"alice@p2/phone", "carol@p1/phone"}));
  // Messages sent by a removed account stay: they were accepted and are owed to their recipient.
  EXPECT_EQ(MessageIds(snapshot), (std::vector<std::string>{"to-carol", "to-other-alice"}));
  EXPECT_EQ(CountRows(path_, "SELECT count(*) FROM message_acks"), 1);
}

TEST_F(SqliteStoreTest, EnrollmentIsPutThenUsed) {
  ApplyOk(PutEnrollment{{"token-hash-1", "acme", 50'000, 0}});
  ApplyOk(PutEnrollment{{"token-hash-2", "globex", 60'000, 0}});
  ApplyOk(UseEnrollment{"token-hash-1", 1234});

  const Snapshot snapshot = Reopen();

  ASSERT_EQ(snapshot.enrollments.size(), 2u);
  for (const EnrollmentRecord& e : snapshot.enrollments) {
    const bool first = e.token_hash == "token-hash-1";
    EXPECT_EQ(e.name, first ? "acme" : "globex");
    EXPECT_EQ(e.expires_ms, first ? 50'000 : 60'000);
    EXPECT_EQ(e.used_ms, first ? 1234 : 0);
  }
}

TEST_F(SqliteStoreTest, DeviceIsUpsertedByAddressAndId) {
  const Address alice{"p1", "alice"};
  ApplyOk(PutDevice{{alice, "phone", 100}});
  ApplyOk(PutDevice{{alice, "phone", 200}});
  ApplyOk(PutDevice{{alice, "laptop", 150}});

  const Snapshot snapshot = Reopen();

  ASSERT_EQ(snapshot.devices.size(), 2u);
  for (const DeviceRecord& d : snapshot.devices) {
    EXPECT_EQ(d.address, alice);
    EXPECT_EQ(d.last_seen_ms, d.device == "phone" ? 200 : 150);
  }
}

TEST_F(SqliteStoreTest, MessagesAreAppendedAckedAndDeleted) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  const StoredMessage first = MakeMessage("m1", alice, bob, 111'000);
  ApplyOk(AppendMessage{first, 222'000});
  ApplyOk(AppendMessage{MakeMessage("m2", alice, bob), 222'000});
  ApplyOk(AppendMessage{MakeMessage("m3", bob, alice), 222'000});
  ApplyOk(AckMessage{"m1", "tablet"});
  ApplyOk(AckMessage{"m1", "laptop"});
  ApplyOk(AckMessage{"m1", "laptop"});          // a repeated ack is ignored
  ApplyOk(AckMessage{"no-such-message", "x"});  // an ack racing a delete does not fail
  ApplyOk(DeleteMessages{{"m2"}});

  const Snapshot snapshot = Reopen();

  ASSERT_EQ(MessageIds(snapshot), (std::vector<std::string>{"m1", "m3"}));
  EXPECT_EQ(Tie(snapshot.messages[0].message), Tie(first.message));
  EXPECT_EQ(snapshot.messages[0].expires_ms, 111'000);
  EXPECT_EQ(snapshot.messages[0].acked_devices, (std::vector<std::string>{"laptop", "tablet"}));
  EXPECT_TRUE(snapshot.messages[1].acked_devices.empty());
  EXPECT_EQ(CountRows(path_, "SELECT count(*) FROM message_acks"), 2);

  // Dedup records outlive the messages they name: a late retry still gets its message id.
  ASSERT_EQ(snapshot.dedup.size(), 3u);
  for (const DedupRecord& d : snapshot.dedup) {
    EXPECT_EQ(d.client_id, "c-" + d.message_id);
    EXPECT_EQ(d.device, "phone");
    EXPECT_EQ(d.expires_ms, 222'000);
    EXPECT_EQ(d.sender, d.message_id == "m3" ? bob : alice);
  }
}

TEST_F(SqliteStoreTest, DeletingAMessageRemovesItsAcks) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  ApplyOk(AppendMessage{MakeMessage("m1", alice, bob), 9000});
  ApplyOk(AckMessage{"m1", "phone"});

  ApplyOk(DeleteMessages{{"m1"}});

  EXPECT_EQ(CountRows(path_, "SELECT count(*) FROM message_acks"), 0);
  EXPECT_TRUE(Reopen().messages.empty());
}

TEST_F(SqliteStoreTest, MessageAppendedAndDeletedInOneBatchIsNeverWritten) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  Counter& annihilated = metrics_.GetCounter("switchboard_store_messages_annihilated_total", "");
  WriterGate gate;
  store_->Submit(PutDevice{{bob, "gate", 1}}, gate.Hold());
  gate.WaitUntilHeld();

  // One batch: m1 and m2 come and go (m2 acked by one device first), m3 stays.
  store_->Submit(AppendMessage{MakeMessage("m1", alice, bob), 222'000}, {});
  store_->Submit(AppendMessage{MakeMessage("m2", alice, bob), 222'000}, {});
  store_->Submit(AppendMessage{MakeMessage("m3", alice, bob), 222'000}, {});
  store_->Submit(AckMessage{"m2", "phone"}, {});
  store_->Submit(AckMessage{"m3", "phone"}, {});
  store_->Submit(DeleteMessages{{"m1"}}, {});
  store_->Submit(DeleteMessages{{"m2"}}, {});
  gate.Release();
  store_->Flush();

  EXPECT_EQ(annihilated.Value(), 2u);
  const Snapshot snapshot = Reopen();
  ASSERT_EQ(MessageIds(snapshot), (std::vector<std::string>{"m3"}));
  EXPECT_EQ(snapshot.messages[0].acked_devices, (std::vector<std::string>{"phone"}));
  EXPECT_EQ(CountRows(path_, "SELECT count(*) FROM message_acks"), 1);
  // A retry after a restart must still find the message id of an annihilated message.
  EXPECT_EQ(snapshot.dedup.size(), 3u);
}

TEST_F(SqliteStoreTest, DeletionsOfEarlierBatchesRunTogether) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  for (int i = 0; i < 50; ++i) {
    store_->Submit(AppendMessage{MakeMessage("m" + std::to_string(i), alice, bob), 222'000}, {});
    store_->Submit(AckMessage{"m" + std::to_string(i), "phone"}, {});
  }
  store_->Flush();
  WriterGate gate;
  store_->Submit(PutDevice{{bob, "gate", 1}}, gate.Hold());
  gate.WaitUntilHeld();

  for (int i = 0; i < 50; i += 2) {
    store_->Submit(DeleteMessages{{"m" + std::to_string(i)}}, {});
  }
  store_->Submit(DeleteMessages{{"m1", "m3", "no-such-message", "odd\"id"}}, {});
  store_->Submit(AckMessage{"m1", "laptop"}, {});  // acked after its delete: dropped
  gate.Release();
  store_->Flush();

  const Snapshot snapshot = Reopen();
  ASSERT_EQ(snapshot.messages.size(), 23u);
  for (const StoredMessage& m : snapshot.messages) {
    const int n = std::stoi(m.message.message_id.substr(1));
    EXPECT_TRUE(n % 2 == 1 && n > 3) << m.message.message_id;
  }
  EXPECT_EQ(CountRows(path_, "SELECT count(*) FROM message_acks"), 23);
  EXPECT_EQ(metrics_.GetCounter("switchboard_store_messages_annihilated_total", "").Value(), 0u);
}

TEST_F(SqliteStoreTest, ExpireRemovesOnlyWhatIsDue) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  ApplyOk(AppendMessage{MakeMessage("old", alice, bob, 100), 100});
  ApplyOk(AppendMessage{MakeMessage("due", alice, bob, 150), 150});
  ApplyOk(AppendMessage{MakeMessage("new", alice, bob, 200), 200});
  ApplyOk(AckMessage{"old", "phone"});
  ApplyOk(AckMessage{"new", "phone"});
  ApplyOk(PutEnrollment{{"e-old", "a", 100, 0}});
  ApplyOk(PutEnrollment{{"e-new", "b", 200, 0}});
  ApplyOk(PutDevice{{alice, "stale", 50}});
  ApplyOk(PutDevice{{alice, "boundary", 100}});
  ApplyOk(PutDevice{{alice, "fresh", 150}});

  ApplyOk(Expire{150, 100});
  const Snapshot snapshot = Reopen();

  EXPECT_EQ(MessageIds(snapshot), std::vector<std::string>{"new"});
  EXPECT_EQ(snapshot.messages[0].acked_devices, std::vector<std::string>{"phone"});
  EXPECT_EQ(CountRows(path_, "SELECT count(*) FROM message_acks"), 1);
  ASSERT_EQ(snapshot.dedup.size(), 1u);
  EXPECT_EQ(snapshot.dedup[0].message_id, "new");
  ASSERT_EQ(snapshot.enrollments.size(), 1u);
  EXPECT_EQ(snapshot.enrollments[0].token_hash, "e-new");
  EXPECT_EQ(DeviceNames(snapshot),
            (std::vector<std::string>{"alice@p1/boundary", "alice@p1/fresh"}));
}

TEST_F(SqliteStoreTest, DedupRecordsExpireFromTheFrontInTheOrderWritten) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  ApplyOk(AppendMessage{MakeMessage("a", alice, bob), 100});
  ApplyOk(AppendMessage{MakeMessage("b", alice, bob), 400});  // a longer window, since shortened
  ApplyOk(AppendMessage{MakeMessage("c", alice, bob), 200});
  ApplyOk(AppendMessage{MakeMessage("d", alice, bob), 0});  // no expiry: kept
  ApplyOk(AppendMessage{MakeMessage("e", alice, bob), 500});

  // "c" is due but written after "b", which is not: it waits for "b".
  ApplyOk(Expire{250, 0});
  auto ids = [](const Snapshot& snapshot) {
    std::vector<std::string> ids;
    for (const DedupRecord& d : snapshot.dedup)
      ids.push_back(d.message_id);
    return ids;
  };
  EXPECT_EQ(ids(Reopen()), (std::vector<std::string>{"b", "c", "d", "e"}));
  ApplyOk(Expire{450, 0});
  EXPECT_EQ(ids(Reopen()), (std::vector<std::string>{"d", "e"}));
  ApplyOk(Expire{1000, 0});
  EXPECT_EQ(ids(Reopen()), (std::vector<std::string>{"d"}));
}

TEST_F(SqliteStoreTest, AClientIdUsedAgainIsAppendedAfterItsFirstRecord) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  StoredMessage again = MakeMessage("second", alice, bob);
  again.message.client_id = "c-first";
  ApplyOk(AppendMessage{MakeMessage("first", alice, bob), 100});
  ApplyOk(AppendMessage{again, 300});

  const Snapshot snapshot = Reopen();
  ASSERT_EQ(snapshot.dedup.size(), 2u);
  EXPECT_EQ(snapshot.dedup[0].message_id, "first");
  EXPECT_EQ(snapshot.dedup[1].message_id, "second");  // the later one replaces it when loaded
  EXPECT_EQ(snapshot.dedup[1].client_id, "c-first");
}

TEST_F(SqliteStoreTest, TenThousandMessagesKeepAcceptanceOrderAcrossReopen) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  // Ids that sort against the acceptance order, so only the sequence column can restore it.
  std::vector<std::string> expected;
  for (int i = 0; i < 10'000; ++i) {
    expected.push_back("m" + std::to_string(99'999 - i));
    store_->Submit(AppendMessage{MakeMessage(expected.back(), alice, bob), 9000}, {});
  }
  store_->Flush();

  const Snapshot snapshot = Reopen();

  EXPECT_EQ(MessageIds(snapshot), expected);
}

TEST_F(SqliteStoreTest, CompletionsRunInSubmissionOrderAfterCommit) {
  const Address alice{"p1", "alice"};
  const Address bob{"p2", "bob"};
  constexpr int kCount = 200;
  std::vector<int> order;
  std::vector<std::int64_t> visible;

  // Each completion looks through a second connection: only committed rows are visible there.
  for (int i = 0; i < kCount; ++i) {
    const std::string id = "m" + std::to_string(i);
    store_->Submit(AppendMessage{MakeMessage(id, alice, bob), 9000},
                   [&, i, id, path = path_](const Status& status) {
                     EXPECT_TRUE(status.ok());
                     order.push_back(i);
                     visible.push_back(CountRows(
                         path, "SELECT count(*) FROM messages WHERE message_id = '" + id + "'"));
                   });
  }
  store_->Flush();

  ASSERT_EQ(order.size(), static_cast<std::size_t>(kCount));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(std::count(visible.begin(), visible.end(), 1), kCount);
}

// Ok means durable: a process that dies right after the completion (no Close(), no checkpoint,
// no destructors) leaves the change in the file.
TEST_F(SqliteStoreTest, CommittedChangeSurvivesAnAbruptExit) {
  store_.reset();  // the child is then the only writer, and no thread runs while forking

  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    MetricsRegistry metrics;
    auto store = OpenSqliteStore(Options(), metrics);
    std::promise<bool> done;
    store->Submit(PutDevice{{{"p1", "alice"}, "phone", 1}},
                  [&done](const Status& s) { done.set_value(s.ok()); });
    _exit(done.get_future().get() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  store_ = Open();
  EXPECT_EQ(DeviceNames(store_->Load()), std::vector<std::string>{"alice@p1/phone"});
}

TEST_F(SqliteStoreTest, ConcurrentSubmittersAllComplete) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  const std::uint64_t mutations_before = Mutations().Value();
  std::vector<std::vector<int>> completed(kThreads);  // touched only by the writer thread
  std::atomic<int> ok{0};

  std::vector<std::thread> submitters;
  submitters.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      const Address from{"p1", "sender" + std::to_string(t)};
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        store_->Submit(AppendMessage{MakeMessage(id, from, {"p2", "bob"}), 9000},
                       [&, t, i](const Status& status) {
                         ok += status.ok() ? 1 : 0;
                         completed[t].push_back(i);
                       });
      }
    });
  }
  for (std::thread& s : submitters) {
    s.join();
  }
  store_->Flush();

  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  for (const std::vector<int>& c : completed) {
    ASSERT_EQ(c.size(), static_cast<std::size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(c.begin(), c.end()));  // each submitter's order is kept
  }
  EXPECT_EQ(Mutations().Value() - mutations_before, static_cast<std::uint64_t>(ok.load()));
  EXPECT_EQ(store_->QueueDepth(), 0u);
  EXPECT_EQ(Reopen().messages.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

// Sanitizers slow everything down several times; the budget only has to catch an accidental
// per-row transaction or re-prepared statement, which costs orders of magnitude more.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kAccountsBudgetSeconds = 30;
#else
constexpr double kAccountsBudgetSeconds = 5;
#endif

TEST_F(SqliteStoreTest, HundredThousandAccountsInOneMutation) {
  constexpr int kCount = 100'000;
  std::vector<std::string> removed;
  for (const AccountRecord& a : MakeAccounts("old", kCount)) {
    removed.push_back(a.account);
  }
  Mutation put = PutPlatform{MakePlatform("p1"), MakeAccounts("old", kCount)};
  Mutation change = ChangeAccounts{"p1", MakeAccounts("new", kCount), std::move(removed)};

  auto started = std::chrono::steady_clock::now();
  ApplyOk(std::move(put));
  const double put_seconds = Seconds(std::chrono::steady_clock::now() - started);
  EXPECT_LT(put_seconds, kAccountsBudgetSeconds);

  started = std::chrono::steady_clock::now();
  ApplyOk(std::move(change));
  const double change_seconds = Seconds(std::chrono::steady_clock::now() - started);
  EXPECT_LT(change_seconds, kAccountsBudgetSeconds);
  RecordProperty("put_ms", static_cast<int>(put_seconds * 1000));
  RecordProperty("change_ms", static_cast<int>(change_seconds * 1000));

  const Snapshot snapshot = Reopen();
  ASSERT_EQ(snapshot.accounts.size(), static_cast<std::size_t>(kCount));
  EXPECT_TRUE(std::all_of(snapshot.accounts.begin(), snapshot.accounts.end(),
                          [](const auto& a) { return a.second.account.rfind("new", 0) == 0; }));
}

TEST_F(SqliteStoreTest, GroupCommitTakesEverythingQueuedMeanwhile) {
  const std::uint64_t commits_before = Commits().Value();
  WriterGate gate;
  store_->Submit(PutDevice{{{"p1", "alice"}, "gate", 1}}, gate.Hold());
  gate.WaitUntilHeld();

  for (int i = 0; i < 100; ++i) {
    store_->Submit(PutDevice{{{"p1", "alice"}, "d" + std::to_string(i), 1}}, {});
  }
  gate.Release();
  store_->Flush();

  EXPECT_EQ(Commits().Value() - commits_before, 2u);  // the gate's batch, then the other 100
}

TEST_F(SqliteStoreTest, WriteBehindGathersABatchAndFlushCutsTheWaitShort) {
  SqliteOptions options = Options();
  options.durable = false;
  options.write_behind_delay = std::chrono::seconds(30);
  store_.reset();
  store_ = Open(options);
  const std::uint64_t commits_before = Commits().Value();
  const auto started = std::chrono::steady_clock::now();

  for (int i = 0; i < 100; ++i) {
    store_->Submit(PutDevice{{{"p1", "alice"}, "d" + std::to_string(i), 1}}, {});
  }
  store_->Flush();

  EXPECT_EQ(Commits().Value() - commits_before, 1u);
  EXPECT_LT(Seconds(std::chrono::steady_clock::now() - started), 20.0);
  store_->Submit(PutDevice{{{"p1", "alice"}, "late", 1}}, {});
  store_->Close();  // does not wait out the delay either, and commits what it holds
  EXPECT_LT(Seconds(std::chrono::steady_clock::now() - started), 20.0);
  EXPECT_EQ(Commits().Value() - commits_before, 2u);
}

TEST_F(SqliteStoreTest, BatchesAreCappedAtMaxBatch) {
  SqliteOptions options = Options();
  options.max_batch = 10;
  store_.reset();
  store_ = Open(options);
  const std::uint64_t commits_before = Commits().Value();
  WriterGate gate;
  store_->Submit(PutDevice{{{"p1", "alice"}, "gate", 1}}, gate.Hold());
  gate.WaitUntilHeld();

  for (int i = 0; i < 100; ++i) {
    store_->Submit(PutDevice{{{"p1", "alice"}, "d" + std::to_string(i), 1}}, {});
  }
  gate.Release();
  store_->Flush();

  EXPECT_EQ(Commits().Value() - commits_before, 11u);
}

// Running as root defeats read-only permissions, so the store is made to run out of space
// instead: a small max_page_count makes SQLite answer SQLITE_FULL as a full disk would.
TEST_F(SqliteStoreTest, FailedBatchReportsUnavailableAndChangesNothing) {
  SqliteOptions options = Options();
  options.max_page_count = 64;  // 256 KiB with the default page size; the schema needs less
  store_.reset();
  store_ = Open(options);
  const Address alice{"p1", "alice"};
  const std::uint64_t failed_before = FailedBatches().Value();
  ApplyOk(PutPlatform{MakePlatform("p1"), {{"alice", true}, {"carol", true}, {"dave", true}}});

  // Queue four mutations behind a held writer so that they form one batch; the third cannot fit.
  WriterGate gate;
  store_->Submit(PutDevice{{alice, "before", 1}}, gate.Hold());
  gate.WaitUntilHeld();
  StoredMessage huge = MakeMessage("huge", alice, {"p2", "bob"});
  huge.message.content_json = std::string(1 << 20, 'x');
  std::vector<Status> results;
  const auto record = [&results](Status s) { results.push_back(std::move(s)); };
  store_->Submit(PutDevice{{alice, "in-failed-batch-1", 2}}, record);
  store_->Submit(ChangeAccounts{"p1", {{"erin", true}}, {"carol"}}, record);
  store_->Submit(AppendMessage{huge, 9000}, record);
  store_->Submit(PutDevice{{alice, "in-failed-batch-2", 3}}, record);
  gate.Release();
  store_->Flush();

  ASSERT_EQ(results.size(), 4u);
  for (const Status& s : results) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  }
  EXPECT_EQ(FailedBatches().Value() - failed_before, 1u);

  // The store keeps working for what fits, and nothing of the failed removal lingers.
  ApplyOk(PutDevice{{alice, "after", 4}});
  ApplyOk(ChangeAccounts{"p1", {}, {"dave"}});

  const Snapshot snapshot = Reopen();
  EXPECT_EQ(DeviceNames(snapshot), (std::vector<std::string>{"alice@p1/after", "alice@p1/before"}));
  EXPECT_EQ(AccountNames(snapshot, "p1"), (std::vector<std::string>{"alice", "carol"}));
  EXPECT_TRUE(snapshot.messages.empty());
  EXPECT_TRUE(snapshot.dedup.empty());
}

TEST_F(SqliteStoreTest, FlushWaitsForEarlierMutations) {
  WriterGate gate;
  store_->Submit(PutDevice{{{"p1", "alice"}, "gate", 1}}, gate.Hold());
  gate.WaitUntilHeld();
  bool later_done = false;  // written on the writer thread, read after Flush()
  store_->Submit(PutDevice{{{"p1", "alice"}, "later", 1}},
                 [&](const Status&) { later_done = true; });

  auto flushed = std::async(std::launch::async, [this] { store_->Flush(); });
  // A negative check needs a bound: Flush must still be waiting while the writer is held.
  EXPECT_EQ(flushed.wait_for(50ms), std::future_status::timeout);

  gate.Release();
  flushed.get();
  EXPECT_TRUE(later_done);
}

TEST_F(SqliteStoreTest, QueueDepthCountsUncommittedMutationsAndReturnsToZero) {
  WriterGate gate;
  store_->Submit(PutDevice{{{"p1", "alice"}, "gate", 1}}, gate.Hold());
  gate.WaitUntilHeld();
  for (int i = 0; i < 5; ++i) {
    store_->Submit(PutDevice{{{"p1", "alice"}, "d" + std::to_string(i), 1}}, {});
  }

  // The gate's own mutation is committed already; the five wait behind it.
  EXPECT_EQ(store_->QueueDepth(), 5u);

  gate.Release();
  store_->Flush();
  EXPECT_EQ(store_->QueueDepth(), 0u);
  EXPECT_EQ(metrics_.GetGauge("switchboard_store_queue_depth", "").Value(), 0);
}

TEST_F(SqliteStoreTest, CloseIsIdempotentAndLateSubmitIsRefused) {
  bool done = false;
  store_->Submit(PutDevice{{{"p1", "alice"}, "phone", 1}}, [&](const Status& s) { done = s.ok(); });
  store_->Close();
  EXPECT_TRUE(done);  // Close() flushes first
  store_->Close();

  std::optional<Status> late;
  store_->Submit(PutDevice{{{"p1", "alice"}, "late", 1}}, [&](Status s) { late = std::move(s); });
  ASSERT_TRUE(late.has_value());
  ASSERT_FALSE(late->ok());
  EXPECT_EQ(late->error().code, ErrorCode::kUnavailable);
  store_->Flush();  // returns at once: nothing is pending

  EXPECT_EQ(DeviceNames(Reopen()), std::vector<std::string>{"alice@p1/phone"});
}

TEST_F(SqliteStoreTest, CountsCommitsAndBatchSizes) {
  const std::uint64_t commits_before = Commits().Value();
  ApplyOk(PutDevice{{{"p1", "alice"}, "phone", 1}});

  EXPECT_EQ(Commits().Value() - commits_before, 1u);
  EXPECT_GE(metrics_.GetHistogram("switchboard_store_commit_seconds", "", {}).Count(), 1u);
  EXPECT_GE(metrics_.GetHistogram("switchboard_store_batch_size", "", {}).BucketCount(0), 1u);
  EXPECT_NE(metrics_.RenderPrometheus().find("switchboard_store_failed_batches_total 0"),
            std::string::npos);
}

// Opening a file prepared by the test itself.
class SqliteStoreOpenTest : public ::testing::Test {
 protected:
  SqliteStoreOpenTest() { options.path = dir.File("store.db"); }

  TempDir dir;
  MetricsRegistry metrics;
  SqliteOptions options;
};

TEST_F(SqliteStoreOpenTest, ThrowsWhenTheFolderIsMissing) {
  options.path = (dir.path() / "missing" / "store.db").string();
  EXPECT_THROW(OpenSqliteStore(options, metrics), std::runtime_error);
}

TEST_F(SqliteStoreOpenTest, RefusesASchemaNewerThanItKnows) {
  {
    Database db(options.path);
    db.Exec("PRAGMA user_version = 999");
  }
  EXPECT_THROW(OpenSqliteStore(options, metrics), std::runtime_error);
}

TEST_F(SqliteStoreOpenTest, UpgradesDedupRecordsOfSchemaVersion1) {
  {
    // The dedup table as version 1 had it, with two records written out of expiry order.
    Database db(options.path);
    db.Exec(R"sql(
      CREATE TABLE dedup (
        platform TEXT NOT NULL, account TEXT NOT NULL, device TEXT NOT NULL,
        client_id TEXT NOT NULL, message_id TEXT NOT NULL, expires_ms INTEGER NOT NULL,
        PRIMARY KEY (platform, account, device, client_id)) WITHOUT ROWID;
      CREATE INDEX dedup_by_expiry ON dedup (expires_ms);
      INSERT INTO dedup VALUES ('p1', 'alice', 'phone', 'c2', 'm2', 200);
      INSERT INTO dedup VALUES ('p1', 'alice', 'phone', 'c1', 'm1', 100);
      PRAGMA user_version = 1;
    )sql");
  }

  auto store = OpenSqliteStore(options, metrics);
  const Snapshot snapshot = store->Load();
  ASSERT_EQ(snapshot.dedup.size(), 2u);
  EXPECT_EQ(snapshot.dedup[0].message_id, "m1");  // in expiry order, so they expire from the front
  EXPECT_EQ(snapshot.dedup[0].client_id, "c1");
  EXPECT_EQ(snapshot.dedup[0].sender, (Address{"p1", "alice"}));
  EXPECT_EQ(snapshot.dedup[0].expires_ms, 100);
  EXPECT_EQ(snapshot.dedup[1].message_id, "m2");
  store.reset();

  EXPECT_EQ(CountRows(options.path, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(CountRows(options.path,
                      "SELECT count(*) FROM sqlite_master WHERE name IN"
                      " ('dedup_version1', 'dedup_by_expiry')"),
            0);
}

}  // namespace
}  // namespace sb::store
