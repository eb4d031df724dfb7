// Each network function on its own: the UL CL UPF's rules, the SMF's path bookkeeping and
// outcomes, and the PCF's decisions for every policy kind and condition.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <vector>

#include "offload/pcf.h"
#include "offload/smf.h"
#include "offload/ulcl_upf.h"
#include "sample_topology.h"

namespace sb::offload {
namespace {

namespace json = boost::json;
using namespace testing;

Policy MakePolicy(std::string_view body) {
  Topology topology = SampleTopology();
  auto policy = ParsePolicyRequest(json::parse(body).as_object(), &topology);
  if (!policy) throw std::runtime_error(policy.error().message);
  return std::move(policy).value();
}

// Records what the SMF reports around each switch.
class RecordingObserver : public PathObserver {
 public:
  void OnPathChanging(const PathChange& change) override {
    events.push_back("early:" + std::string(OutcomeName(change.outcome)));
  }
  void OnPathChanged(const PathChange& change) override {
    events.push_back("late:" + std::string(OutcomeName(change.outcome)));
  }
  std::vector<std::string> events;
};

TEST(UlclUpfTest, BranchesOnlyTerminalsWithARuleAndOnlyTheirListedApplications) {
  Topology topology = SampleTopology();
  UlclUpf upf(*topology.FindBySite("edge-sz"));
  EXPECT_FALSE(upf.SelectPsa(1, "chat"));

  upf.Enable(1, {});
  upf.Enable(2, {"game"});
  EXPECT_EQ(upf.SelectPsa(1, "chat"), "psa-sz");
  EXPECT_EQ(upf.SelectPsa(2, "game"), "psa-sz");
  EXPECT_FALSE(upf.SelectPsa(2, "chat"));

  upf.Release(1);
  EXPECT_FALSE(upf.SelectPsa(1, "chat"));
  EXPECT_EQ(upf.RuleCount(), 1u);
}

class SmfTest : public ::testing::Test {
 protected:
  SmfTest() { smf_.SetObserver(&observer_); }

  PathChange Apply(const char* site) {
    Decision decision;
    decision.edge = site == nullptr ? nullptr : topology_.FindBySite(site);
    decision.reason_code = "test";
    return smf_.OnTransmissionPolicy(terminal_, {kSzTai, ""}, decision);
  }

  Topology topology_ = SampleTopology();
  std::int64_t now_ = 1000;
  Smf smf_{topology_, [this] { return now_; }};
  RecordingObserver observer_;
  TerminalRef terminal_{7, {"meta", "alice"}};
};

TEST_F(SmfTest, InsertsRelocatesAndRemovesThePathAtTheUlclUpfs) {
  EXPECT_EQ(Apply("edge-sz").outcome, Outcome::kInserted);
  EXPECT_TRUE(smf_.UpfAt("edge-sz")->HasRule(7));
  EXPECT_EQ(smf_.SelectRoute(7, "chat").psa, "psa-sz");

  now_ = 2000;
  PathChange relocated = Apply("edge-gz");
  EXPECT_EQ(relocated.outcome, Outcome::kRelocated);
  EXPECT_EQ(relocated.before.route.site, "edge-sz");
  EXPECT_EQ(relocated.after.since_ms, 2000);
  EXPECT_FALSE(smf_.UpfAt("edge-sz")->HasRule(7));
  EXPECT_TRUE(smf_.UpfAt("edge-gz")->HasRule(7));

  EXPECT_EQ(Apply("edge-gz").outcome, Outcome::kUnchanged);
  EXPECT_EQ(smf_.PathOf(7).since_ms, 2000);

  EXPECT_EQ(Apply(nullptr).outcome, Outcome::kRemoved);
  EXPECT_FALSE(smf_.UpfAt("edge-gz")->HasRule(7));
  EXPECT_EQ(smf_.SelectRoute(7, "chat"), topology_.MainRoute());

  // Early comes before late, and an unchanged path tells nobody.
  EXPECT_EQ(observer_.events,
            (std::vector<std::string>{"early:inserted", "late:inserted", "early:relocated",
                                      "late:relocated", "early:removed", "late:removed"}));
}

TEST_F(SmfTest, ReleaseForgetsThePathWithoutNotification) {
  Apply("edge-sh");
  observer_.events.clear();
  smf_.Release(7);
  EXPECT_FALSE(smf_.UpfAt("edge-sh")->HasRule(7));
  EXPECT_FALSE(smf_.PathOf(7).offloaded);
  EXPECT_TRUE(observer_.events.empty());
}

class PcfTest : public ::testing::Test {
 protected:
  Decision Decide(const Policy* policy, const Location& location,
                  const std::string& account = "alice") {
    return pcf_.Decide({"meta", account}, location, policy, now_);
  }
  static std::string Site(const Decision& decision) {
    return decision.edge == nullptr ? "main" : decision.edge->site;
  }

  Topology topology_ = SampleTopology();
  std::int64_t now_ = 10'000;
  Smf smf_{topology_, [this] { return now_; }};
  Pcf pcf_{topology_, smf_, [this] { return now_; }};
};

TEST_F(PcfTest, WithoutAPolicyEveryTerminalStaysOnTheMainAnchor) {
  Decision decision = Decide(nullptr, {kSzTai, kSzCell});
  EXPECT_EQ(Site(decision), "main");
  EXPECT_EQ(decision.reason_code, reason::kNoPolicy);
}

TEST_F(PcfTest, LocationPolicyFollowsTheAreas) {
  Policy policy = MakePolicy(R"({"kind":"location","params":{"areas":[
      {"dnai":"dnai-sz-nanshan","tais":["460-00-001a01"]},{"dnai":"dnai-gz-tianhe"}]}})");
  EXPECT_EQ(Site(Decide(&policy, {kSzTai, kSzCell})), "edge-sz");
  EXPECT_EQ(Decide(&policy, {kSzTai, kSzCell}).reason_code, reason::kAreaMatch);
  EXPECT_EQ(Site(Decide(&policy, {kGzTai, ""})), "edge-gz");
  // Served by edge-sz, but not in the policy's area for it.
  EXPECT_EQ(Decide(&policy, {kSzTai2, ""}).reason_code, reason::kOutsideArea);
  EXPECT_EQ(Site(Decide(&policy, {kShTai, ""})), "main");
  EXPECT_EQ(Decide(&policy, {kUncoveredTai, ""}).reason_code, reason::kOutsideArea);
  EXPECT_EQ(Decide(&policy, {}).reason_code, reason::kNoLocation);
}

TEST_F(PcfTest, LocationSubscriptionOffloadsOnlySubscribedAccounts) {
  Policy policy = MakePolicy(R"({"kind":"location_subscription","params":{
      "areas":[{"dnai":"dnai-sz-nanshan"}],"accounts":["alice"]}})");
  EXPECT_EQ(Site(Decide(&policy, {kSzTai, ""}, "alice")), "edge-sz");
  Decision bob = Decide(&policy, {kSzTai, ""}, "bob");
  EXPECT_EQ(Site(bob), "main");
  EXPECT_EQ(bob.reason_code, reason::kNotSubscribed);
}

TEST_F(PcfTest, LocationApplicationCarriesTheApplicationFilter) {
  Policy policy = MakePolicy(R"({"kind":"location_application","params":{
      "areas":[{"dnai":"dnai-sz-nanshan"}],"applications":["game"]}})");
  Decision decision = Decide(&policy, {kSzTai, ""});
  EXPECT_EQ(Site(decision), "edge-sz");
  EXPECT_EQ(decision.applications, (std::set<std::string>{"game"}));
}

TEST_F(PcfTest, TemporalValidityBoundsEveryKind) {
  Policy policy = MakePolicy(R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan"}],
      "temporal_validity":{"start":5000,"end":20000}}})");
  now_ = 4999;
  EXPECT_EQ(Decide(&policy, {kSzTai, ""}).reason_code, reason::kNotYetValid);
  now_ = 5000;
  EXPECT_EQ(Site(Decide(&policy, {kSzTai, ""})), "edge-sz");
  now_ = 20000;
  EXPECT_EQ(Decide(&policy, {kSzTai, ""}).reason_code, reason::kValidityExpired);
}

TEST_F(PcfTest, ExposureFollowsTheMatchingTrafficInfluenceRequest) {
  Policy policy = MakePolicy(R"({"kind":"exposure"})");
  EXPECT_EQ(Decide(&policy, {kSzTai, ""}).reason_code, reason::kNoRequest);

  TrafficInfluence request;
  request.id = "ti1";
  request.accounts = {"alice"};
  request.dnais = {"dnai-sz-nanshan", "dnai-gz-tianhe"};
  request.validity.end_ms = 20000;
  policy.requests.push_back(request);

  Decision sz = Decide(&policy, {kSzTai, ""});
  EXPECT_EQ(Site(sz), "edge-sz");
  EXPECT_EQ(sz.request_id, "ti1");
  EXPECT_EQ(Site(Decide(&policy, {kGzTai, kGzCell})), "edge-gz");
  EXPECT_EQ(Decide(&policy, {kShTai, ""}).reason_code, reason::kOutsideArea);
  EXPECT_EQ(Decide(&policy, {kSzTai, ""}, "bob").reason_code, reason::kNoRequest);
  now_ = 20000;
  EXPECT_EQ(Decide(&policy, {kSzTai, ""}).reason_code, reason::kValidityExpired);
}

TEST_F(PcfTest, OnPolicyUpdateSendsTheDecisionToTheSmf) {
  Policy policy =
      MakePolicy(R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sh-pudong"}]}})");
  PathChange change = pcf_.OnPolicyUpdate({3, {"meta", "alice"}}, {kShTai, ""}, &policy);
  EXPECT_EQ(change.outcome, Outcome::kInserted);
  EXPECT_EQ(smf_.PathOf(3).route.site, "edge-sh");
  EXPECT_EQ(smf_.PathOf(3).kind, PolicyKind::kLocation);
}

}  // namespace
}  // namespace sb::offload
