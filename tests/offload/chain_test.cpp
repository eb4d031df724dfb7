// The whole chain AMF -> NEF -> MEC -> PCF -> SMF -> UL CL UPF behind OffloadService, with a real
// registry on a temporary store: every policy kind inserts, relocates and removes paths; the
// conditions (no policy, application, subscription, temporal validity) keep terminals on the main
// anchor; exposure requests steer traffic and notify; policies survive a restart.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <optional>

#include "auth/jwt.h"
#include "offload/offload_service.h"
#include "sample_topology.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_loop.h"

namespace sb::offload {
namespace {

namespace json = boost::json;
using namespace testing;
using sb::testing::TempDir;
using sb::testing::TestLoop;

std::string S(const json::value& value) {
  return value.is_string() ? std::string(value.get_string()) : json::serialize(value);
}

class FakeSender : public NotificationSender {
 public:
  void Send(std::string url, std::string body) override {
    sent.push_back({std::move(url), json::parse(body).as_object()});
  }
  struct Sent {
    std::string url;
    json::object body;
  };
  std::vector<Sent> sent;
};

class ChainTest : public ::testing::Test {
 protected:
  ChainTest() {
    Open();
    meta_ = RegisterPlatform("meta", {"alice", "bob"});
    shop_ = RegisterPlatform("shop", {"carol"});
  }

  void Open() {
    service_.reset();
    registry_.reset();
    if (store_) store_->Close();
    store_ = store::OpenSqliteStore({dir_.File("offload.db")}, metrics_);
    registry_ = std::make_unique<registry::Registry>(*store_, loop_.executor(), metrics_);
    registry_->Load(store_->Load());
    service_ = std::make_unique<OffloadService>(
        SampleTopology(), *registry_, metrics_, [this] { return now_; },
        [this](const Address& address) { return connected_[address]; });
    service_->SetNotificationSender(&sender_);
  }

  std::string RegisterPlatform(const std::string& name, std::vector<std::string> accounts) {
    auto key = auth::SigningKey::Generate();
    auto keys = auth::JwkSet::Parse(R"({"keys":[)" + key.PublicJwkJson("k1") + "]}");
    std::vector<store::AccountRecord> records;
    for (auto& account : accounts)
      records.push_back({account, true});
    std::optional<Result<registry::Registered>> result;
    registry_->Register({name, records, std::move(keys).value(), ""},
                        [&](auto r) { result.emplace(std::move(r)); });
    EXPECT_TRUE(loop_.RunUntil([&] { return result.has_value(); }));
    return result->value().platform_id;
  }

  template <typename T, typename Start>
  Result<T> Wait(Start start) {
    std::optional<Result<T>> result;
    start([&](Result<T> r) { result.emplace(std::move(r)); });
    EXPECT_TRUE(loop_.RunUntil([&] { return result.has_value(); }));
    return std::move(*result);
  }

  void SetPolicy(const std::string& platform_id, std::string_view body) {
    auto policy = ParsePolicyRequest(json::parse(body).as_object(), &service_->topology());
    ASSERT_TRUE(policy.ok()) << policy.error().message;
    auto stored = Wait<Policy>(
        [&](auto done) { service_->policies().Put(platform_id, std::move(policy).value(), done); });
    ASSERT_TRUE(stored.ok()) << stored.error().message;
  }

  std::string AddRequest(const std::string& platform_id, std::string_view body) {
    auto request = ParseTrafficInfluence(json::parse(body).as_object(), &service_->topology());
    EXPECT_TRUE(request.ok()) << request.error().message;
    auto created = Wait<TrafficInfluence>([&](auto done) {
      service_->nef().CreateTrafficInfluence(platform_id, std::move(request).value(), done);
    });
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? created.value().id : "";
  }

  void Connect(TerminalId id, const Address& address) { connected_[address].push_back(id); }

  Outcome Report(const Address& address, const Location& location) {
    auto changes = service_->ReportAccountLocation(address, location);
    EXPECT_EQ(changes.size(), 1u);
    return changes.empty() ? Outcome::kUnchanged : changes.front().outcome;
  }

  std::string SiteOf(TerminalId id, const Address& sender, std::string_view app = "chat") {
    return service_->SelectRoute(id, sender, app).site;
  }

  double Metric(const std::string& name, const std::string& label) {
    const std::string text = metrics_.RenderPrometheus();
    const std::string prefix = name + "{" + label + "} ";
    auto at = text.find(prefix);
    return at == std::string::npos ? 0 : std::stod(text.substr(at + prefix.size()));
  }

  TempDir dir_;
  TestLoop loop_;
  MetricsRegistry metrics_;
  std::int64_t now_ = 1'700'000'000'000;
  std::unordered_map<Address, std::vector<TerminalId>, AddressHash> connected_;
  FakeSender sender_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<OffloadService> service_;
  std::string meta_;
  std::string shop_;
};

// --- Every kind: insertion, relocation, removal
// ---------------------------------------------------

struct KindCase {
  const char* name;
  const char* policy;
  const char* request;  // a traffic-influence request, for exposure
  const char* app;      // the application that is offloaded
};

class EveryKindTest : public ChainTest, public ::testing::WithParamInterface<KindCase> {};

TEST_P(EveryKindTest, InsertsRelocatesAndRemovesThePath) {
  const KindCase& kind = GetParam();
  SetPolicy(meta_, kind.policy);
  if (kind.request != nullptr) AddRequest(meta_, kind.request);
  const Address alice{meta_, "alice"};
  Connect(1, alice);
  EXPECT_EQ(SiteOf(1, alice, kind.app), "core-bj");

  EXPECT_EQ(Report(alice, {kSzTai, kSzCell}), Outcome::kInserted);
  EXPECT_EQ(service_->SelectRoute(1, alice, kind.app),
            (Route{"edge-sz", "dnai-sz-nanshan", "ulcl-sz", "psa-sz"}));

  EXPECT_EQ(Report(alice, {kGzTai, kGzCell}), Outcome::kRelocated);
  EXPECT_EQ(SiteOf(1, alice, kind.app), "edge-gz");
  EXPECT_EQ(service_->Describe(1, alice).path.kind, ParsePolicyKind(kind.name));

  EXPECT_EQ(Report(alice, {kUncoveredTai, ""}), Outcome::kRemoved);
  EXPECT_EQ(SiteOf(1, alice, kind.app), "core-bj");

  EXPECT_EQ(Metric("switchboard_offload_decisions_total", "outcome=\"inserted\""), 1);
  EXPECT_EQ(Metric("switchboard_offload_decisions_total", "outcome=\"relocated\""), 1);
  EXPECT_EQ(Metric("switchboard_offload_decisions_total", "outcome=\"removed\""), 1);
  EXPECT_EQ(Metric("switchboard_egress_messages_total", "site=\"edge-gz\""), 1);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, EveryKindTest,
    ::testing::Values(
        KindCase{"location",
                 R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan"},
                     {"dnai":"dnai-gz-tianhe","cells":["460-00-001b01001"]}]}})",
                 nullptr, "chat"},
        KindCase{"location_subscription",
                 R"({"kind":"location_subscription","params":{"areas":[
                     {"dnai":"dnai-sz-nanshan"},{"dnai":"dnai-gz-tianhe"}],"accounts":["alice"]}})",
                 nullptr, "chat"},
        KindCase{"location_application",
                 R"({"kind":"location_application","params":{"areas":[
                     {"dnai":"dnai-sz-nanshan"},{"dnai":"dnai-gz-tianhe"}],"applications":["game"]}})",
                 nullptr, "game"},
        KindCase{"exposure", R"({"kind":"exposure"})",
                 R"({"any_account":true,"dnais":["dnai-sz-nanshan","dnai-gz-tianhe"]})", "chat"}),
    [](const auto& info) { return std::string(info.param.name); });

// --- Conditions that keep a terminal on the main anchor
// -------------------------------------------

TEST_F(ChainTest, SenderWhosePlatformHasNoPolicyStaysOnTheMainAnchor) {
  SetPolicy(meta_, R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan"}]}})");
  const Address carol{shop_, "carol"};
  Connect(3, carol);
  EXPECT_EQ(Report(carol, {kSzTai, kSzCell}), Outcome::kUnchanged);
  EXPECT_EQ(SiteOf(3, carol), "core-bj");
  EXPECT_EQ(service_->Describe(3, carol).path.reason_code, reason::kNoPolicy);
}

TEST_F(ChainTest, NonMatchingApplicationKeepsEgressingAtTheMainAnchor) {
  SetPolicy(meta_, R"({"kind":"location_application","params":{"areas":[
      {"dnai":"dnai-sz-nanshan"}],"applications":["game"]}})");
  const Address alice{meta_, "alice"};
  Connect(1, alice);
  EXPECT_EQ(Report(alice, {kSzTai, ""}), Outcome::kInserted);
  EXPECT_EQ(SiteOf(1, alice, "game"), "edge-sz");
  EXPECT_EQ(service_->SelectRoute(1, alice, "chat"), service_->topology().MainRoute());
}

TEST_F(ChainTest, UnsubscribedAccountStaysOnTheMainAnchor) {
  SetPolicy(meta_, R"({"kind":"location_subscription","params":{"areas":[
      {"dnai":"dnai-sz-nanshan"}],"accounts":["alice"]}})");
  const Address bob{meta_, "bob"};
  Connect(2, bob);
  EXPECT_EQ(Report(bob, {kSzTai, ""}), Outcome::kUnchanged);
  EXPECT_EQ(SiteOf(2, bob), "core-bj");
  EXPECT_EQ(service_->Describe(2, bob).path.reason_code, reason::kNotSubscribed);
}

TEST_F(ChainTest, ExpiredTemporalValidityRemovesThePathOnTheNextTickOrMessage) {
  SetPolicy(meta_, R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan"}],
      "temporal_validity":{"end":1700000005000},"notification_url":"http://127.0.0.1:9/n"}})");
  const Address alice{meta_, "alice"};
  const Address bob{meta_, "bob"};
  Connect(1, alice);
  Connect(2, bob);
  EXPECT_EQ(Report(alice, {kSzTai, ""}), Outcome::kInserted);
  EXPECT_EQ(Report(bob, {kSzTai, ""}), Outcome::kInserted);

  now_ = 1'700'000'005'000;
  // A message accepted after the end already takes the main anchor, before any tick.
  EXPECT_EQ(SiteOf(1, alice), "core-bj");
  EXPECT_EQ(service_->Describe(2, bob).path.reason_code, reason::kValidityExpired);
  service_->Tick();
  EXPECT_EQ(Metric("switchboard_offload_decisions_total", "outcome=\"removed\""), 2);
  ASSERT_EQ(sender_.sent.size(), 4u);
  EXPECT_EQ(S(sender_.sent.back().body.at("outcome")), "removed");
  EXPECT_EQ(S(sender_.sent.back().body.at("target").at("site")), "core-bj");
}

TEST_F(ChainTest, TickAloneActsOnExpiry) {
  SetPolicy(meta_, R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan"}],
      "temporal_validity":{"start":1700000001000,"end":1700000002000}}})");
  const Address alice{meta_, "alice"};
  Connect(1, alice);
  EXPECT_EQ(Report(alice, {kSzTai, ""}), Outcome::kUnchanged);  // not yet valid
  now_ = 1'700'000'001'500;
  service_->Tick();
  EXPECT_EQ(service_->Describe(1, alice).path.route.site, "edge-sz");
  now_ = 1'700'000'002'000;
  service_->Tick();
  EXPECT_EQ(Metric("switchboard_offload_decisions_total", "outcome=\"removed\""), 1);
}

// --- Exposure
// ---------------------------------------------------------------------------------------

TEST_F(ChainTest, ExposureRequestSteersTargetedAccountsAndNotifiesEarlyAndLate) {
  SetPolicy(meta_, R"({"kind":"exposure"})");
  const std::string id = AddRequest(meta_, R"({"accounts":["alice"],"dnais":["dnai-sh-pudong"],
      "notification_url":"http://127.0.0.1:9/ti","early_notification":true})");
  const Address alice{meta_, "alice"};
  const Address bob{meta_, "bob"};
  Connect(1, alice);
  Connect(2, bob);
  EXPECT_EQ(Report(alice, {kShTai, ""}), Outcome::kInserted);
  EXPECT_EQ(Report(bob, {kShTai, ""}), Outcome::kUnchanged);
  EXPECT_EQ(service_->Describe(1, alice).path.request_id, id);

  ASSERT_EQ(sender_.sent.size(), 2u);
  EXPECT_EQ(sender_.sent[0].url, "http://127.0.0.1:9/ti");
  EXPECT_EQ(S(sender_.sent[0].body.at("phase")), "early");
  EXPECT_EQ(S(sender_.sent[1].body.at("phase")), "late");
  EXPECT_EQ(S(sender_.sent[1].body.at("request_id")), id);
  EXPECT_EQ(S(sender_.sent[1].body.at("target").at("psa")), "psa-sh");

  // Withdrawing the request moves the terminal back at once, and says so.
  auto deleted =
      Wait<Ok>([&](auto done) { service_->nef().DeleteTrafficInfluence(meta_, id, done); });
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(SiteOf(1, alice), "core-bj");
  ASSERT_EQ(sender_.sent.size(), 4u);
  EXPECT_EQ(S(sender_.sent[3].body.at("outcome")), "removed");
}

TEST_F(ChainTest, TrafficInfluenceNeedsAnExposurePolicy) {
  auto request = ParseTrafficInfluence(
      json::parse(R"({"any_account":true,"dnais":["dnai-sz-nanshan"]})").as_object(),
      &service_->topology());
  ASSERT_TRUE(request.ok());
  auto created = Wait<TrafficInfluence>(
      [&](auto done) { service_->nef().CreateTrafficInfluence(meta_, request.value(), done); });
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kConflict);
  auto deleted =
      Wait<Ok>([&](auto done) { service_->nef().DeleteTrafficInfluence(meta_, "ti1", done); });
  EXPECT_FALSE(deleted.ok());
}

TEST_F(ChainTest, PolicyAndRequestsSurviveARestart) {
  SetPolicy(meta_, R"({"kind":"exposure"})");
  const std::string first = AddRequest(meta_, R"({"any_account":true,"dnais":["dnai-gz-tianhe"]})");
  const std::string second =
      AddRequest(meta_, R"({"accounts":["bob"],"dnais":["dnai-sz-nanshan"]})");
  EXPECT_NE(first, second);

  Open();
  auto requests = service_->nef().TrafficInfluenceOf(meta_);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].id, first);
  EXPECT_EQ(requests[1].accounts, (std::set<std::string>{"bob"}));
  const Address alice{meta_, "alice"};
  Connect(1, alice);
  EXPECT_EQ(Report(alice, {kGzTai, ""}), Outcome::kInserted);
  // Ids are not reused after the restart.
  EXPECT_NE(AddRequest(meta_, R"({"any_account":true,"dnais":["dnai-sz-nanshan"]})"), first);
}

// --- Terminals coming and going, policies changing
// -------------------------------------------------

TEST_F(ChainTest, TerminalConnectingLaterStartsAtItsAccountsLastLocation) {
  SetPolicy(meta_, R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan"}]}})");
  const Address alice{meta_, "alice"};
  EXPECT_TRUE(service_->ReportAccountLocation(alice, {kSzTai, kSzCell}).empty());

  Connect(5, alice);
  service_->Tick();
  EXPECT_EQ(Metric("switchboard_offload_decisions_total", "outcome=\"inserted\""), 1);
  auto view = service_->Describe(5, alice);
  EXPECT_EQ(view.location, (Location{kSzTai, kSzCell}));
  EXPECT_EQ(view.path.route.site, "edge-sz");

  // Disconnected terminals are forgotten at the next tick.
  connected_[alice].clear();
  service_->Tick();
  EXPECT_EQ(metrics_.GetGauge("switchboard_offload_terminals", "").Value(), 0);
}

TEST_F(ChainTest, ChangingThePolicyReevaluatesThePlatformsTerminals) {
  const Address alice{meta_, "alice"};
  Connect(1, alice);
  EXPECT_EQ(Report(alice, {kShTai, ""}), Outcome::kUnchanged);
  SetPolicy(meta_, R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sh-pudong"}]}})");
  EXPECT_EQ(SiteOf(1, alice), "edge-sh");

  auto removed = Wait<Ok>([&](auto done) { service_->policies().Remove(meta_, done); });
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(SiteOf(1, alice), "core-bj");
}

TEST_F(ChainTest, TerminalLocationFrameMovesOnlyThatTerminal) {
  SetPolicy(meta_, R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan"}]}})");
  const Address alice{meta_, "alice"};
  Connect(1, alice);
  Connect(2, alice);
  EXPECT_EQ(SiteOf(1, alice), "core-bj");
  ASSERT_TRUE(service_->ReportTerminalLocation(2, alice, {kSzTai, kSzCell}).ok());
  EXPECT_EQ(SiteOf(1, alice), "core-bj");
  EXPECT_EQ(SiteOf(2, alice), "edge-sz");

  EXPECT_FALSE(service_->ReportTerminalLocation(2, alice, {"460-00-ffffff", ""}).ok());
  EXPECT_EQ(SiteOf(2, alice), "edge-sz");
  EXPECT_EQ(Metric("switchboard_offload_location_refused_total", "reason=\"unknown_place\""), 1);
}

TEST_F(ChainTest, QuietScopeKeepsViewsOutOfTheEgressCounters) {
  const Address alice{meta_, "alice"};
  Connect(1, alice);
  {
    OffloadService::QuietScope quiet(*service_);
    SiteOf(1, alice);
  }
  EXPECT_EQ(Metric("switchboard_egress_messages_total", "site=\"core-bj\""), 0);
  SiteOf(1, alice);
  EXPECT_EQ(Metric("switchboard_egress_messages_total", "site=\"core-bj\""), 1);
}

}  // namespace
}  // namespace sb::offload
