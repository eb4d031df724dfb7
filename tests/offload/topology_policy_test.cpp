// The topology file and the policy parameters: parsing, lookups, and refusal of what the topology
// does not know.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "offload/notifier.h"
#include "offload/policy.h"
#include "offload/topology.h"
#include "sample_topology.h"

namespace sb::offload {
namespace {

namespace json = boost::json;
using namespace testing;

json::object Body(std::string_view text) {
  return json::parse(text).as_object();
}

class PolicyParamsTest : public ::testing::Test {
 protected:
  Result<Policy> Parse(std::string_view body) { return ParsePolicyRequest(Body(body), &topology_); }

  // Asserts an invalid_params refusal whose message names `value`.
  void ExpectRefused(std::string_view body, const std::string& value) {
    auto policy = Parse(body);
    ASSERT_FALSE(policy.ok()) << body;
    EXPECT_EQ(policy.error().code, ErrorCode::kInvalidParams);
    EXPECT_NE(policy.error().message.find(value), std::string::npos) << policy.error().message;
  }

  Topology topology_ = SampleTopology();
};

TEST(TopologyTest, SampleParsesWithMainAnchorAndThreeEdges) {
  Topology topology = SampleTopology();
  EXPECT_EQ(topology.main().site, "core-bj");
  EXPECT_EQ(topology.MainRoute(), (Route{"core-bj", "dnai-core", "", "psa-core-bj"}));
  ASSERT_EQ(topology.edges().size(), 3u);
  const EdgeSite* sz = topology.FindByDnai("dnai-sz-nanshan");
  ASSERT_NE(sz, nullptr);
  EXPECT_EQ(Topology::EdgeRoute(*sz), (Route{"edge-sz", "dnai-sz-nanshan", "ulcl-sz", "psa-sz"}));
}

TEST(TopologyTest, SiteServingUsesTheCellWhenGivenElseTheTai) {
  Topology topology = SampleTopology();
  EXPECT_EQ(topology.SiteServing({kSzTai, kSzCell})->site, "edge-sz");
  EXPECT_EQ(topology.SiteServing({kGzTai, ""})->site, "edge-gz");
  EXPECT_EQ(topology.SiteServing({kUncoveredTai, ""}), nullptr);
}

TEST(TopologyTest, CheckLocationRefusesUnknownOrMismatchedPlaces) {
  Topology topology = SampleTopology();
  EXPECT_TRUE(topology.CheckLocation({kSzTai, kSzCell}).ok());
  EXPECT_TRUE(topology.CheckLocation({kUncoveredTai, ""}).ok());
  EXPECT_FALSE(topology.CheckLocation({"460-00-ffffff", ""}).ok());
  EXPECT_FALSE(topology.CheckLocation({kSzTai, "460-00-ffffff001"}).ok());
  auto mismatch = topology.CheckLocation({kGzTai, kSzCell});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error().message.find(kSzCell), std::string::npos);
}

TEST(TopologyTest, MainOnlyAcceptsAnyLocationAndHasNoEdges) {
  Topology topology = Topology::MainOnly({"main", "", "psa-main"});
  EXPECT_FALSE(topology.HasEdges());
  EXPECT_TRUE(topology.CheckLocation({"anything", "cell"}).ok());
  EXPECT_FALSE(topology.CheckLocation({"", ""}).ok());
}

TEST(TopologyTest, RefusesDuplicatesAndMissingMembers) {
  EXPECT_FALSE(Topology::Parse("[]").ok());
  EXPECT_FALSE(Topology::Parse(R"({"edges":[]})").ok());
  auto twice = Topology::Parse(R"({"main":{"site":"m","psa":"p"},"edges":[
      {"site":"a","dnai":"d1","ulcl":"u1","psa":"p1","tais":["t1"]},
      {"site":"b","dnai":"d2","ulcl":"u2","psa":"p2","tais":["t1"]}]})");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("t1"), std::string::npos);
}

TEST_F(PolicyParamsTest, EachKindParsesAndRoundTripsThroughTheStoredForm) {
  const char* bodies[] = {
      R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan"}]}})",
      R"({"kind":"location_subscription","params":{"areas":[{"dnai":"dnai-gz-tianhe",
          "tais":["460-00-001b01"]}],"accounts":["alice"]}})",
      R"({"kind":"location_application","params":{"areas":[{"dnai":"dnai-sh-pudong",
          "cells":["460-00-002c01001"]}],"applications":["game"],
          "temporal_validity":{"start":1000,"end":2000},
          "notification_url":"http://127.0.0.1:9/hook","early_notification":true}})",
      R"({"kind":"exposure"})"};
  for (const char* body : bodies) {
    auto policy = Parse(body);
    ASSERT_TRUE(policy.ok()) << body << ": " << policy.error().message;
    auto again = ParseStoredPolicy(StoredPolicyJson(policy.value()));
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(json::serialize(PolicyJson(again.value())),
              json::serialize(PolicyJson(policy.value())));
  }
}

TEST_F(PolicyParamsTest, RefusesUnknownDnaiTaiAndCellNamingThem) {
  ExpectRefused(R"({"kind":"location","params":{"areas":[{"dnai":"dnai-mars"}]}})", "dnai-mars");
  ExpectRefused(R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan",
                "tais":["460-00-0000ff"]}]}})",
                "460-00-0000ff");
  ExpectRefused(R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan",
                "cells":["460-00-0000ff001"]}]}})",
                "460-00-0000ff001");
  // A TAI of another site is known, but the DNAI does not serve it.
  ExpectRefused(R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan",
                "tais":["460-00-001b01"]}]}})",
                "460-00-001b01");
  // The main anchor's DNAI is not an edge DNAI.
  ExpectRefused(R"({"kind":"location","params":{"areas":[{"dnai":"dnai-core"}]}})", "dnai-core");
}

TEST_F(PolicyParamsTest, RefusesMissingOrMalformedParameters) {
  ExpectRefused(R"({"kind":"teleport"})", "teleport");
  ExpectRefused(R"({"kind":"location","params":{}})", "areas");
  ExpectRefused(
      R"({"kind":"location_subscription","params":{"areas":[{"dnai":"dnai-sz-nanshan"}]}})",
      "accounts");
  ExpectRefused(
      R"({"kind":"location_application","params":{"areas":[{"dnai":"dnai-sz-nanshan"}]}})",
      "applications");
  ExpectRefused(R"({"kind":"location","params":{"areas":[{"dnai":"dnai-sz-nanshan"}],
                "temporal_validity":{"start":2000,"end":1000}}})",
                "temporal_validity");
  ExpectRefused(R"({"kind":"exposure","params":{"notification_url":"https://x.example/h"}})",
                "https://x.example/h");
}

TEST_F(PolicyParamsTest, TrafficInfluenceRequestsAreCheckedAgainstTheTopology) {
  auto ok = ParseTrafficInfluence(Body(R"({"accounts":["alice"],"dnais":["dnai-sz-nanshan"],
      "spatial_validity":{"tais":["460-00-001a01"]},"temporal_validity":{"end":5000},
      "notification_url":"http://127.0.0.1:1/n","early_notification":true,"late_notification":false})"),
                                  &topology_);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok.value().Targets("alice"));
  EXPECT_FALSE(ok.value().Targets("bob"));
  EXPECT_TRUE(ok.value().notification.early);
  EXPECT_FALSE(ok.value().notification.late);

  auto bad_dnai =
      ParseTrafficInfluence(Body(R"({"any_account":true,"dnais":["dnai-x"]})"), &topology_);
  ASSERT_FALSE(bad_dnai.ok());
  EXPECT_NE(bad_dnai.error().message.find("dnai-x"), std::string::npos);
  auto bad_tai = ParseTrafficInfluence(
      Body(
          R"({"any_account":true,"dnais":["dnai-sz-nanshan"],"spatial_validity":{"tais":["460-00-002c01"]}})"),
      &topology_);
  ASSERT_FALSE(bad_tai.ok());
  EXPECT_NE(bad_tai.error().message.find("460-00-002c01"), std::string::npos);
  EXPECT_FALSE(ParseTrafficInfluence(Body(R"({"dnais":["dnai-sz-nanshan"]})"), &topology_).ok());
  EXPECT_FALSE(
      ParseTrafficInfluence(
          Body(R"({"accounts":["a"],"any_account":true,"dnais":["dnai-sz-nanshan"]})"), &topology_)
          .ok());
}

TEST(HttpUrlTest, SplitsHostPortAndTargetAndRefusesOtherSchemes) {
  auto url = ParseHttpUrl("http://127.0.0.1:8081/hooks/offload?x=1");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url.value().host, "127.0.0.1");
  EXPECT_EQ(url.value().port, 8081);
  EXPECT_EQ(url.value().target, "/hooks/offload?x=1");
  auto plain = ParseHttpUrl("http://example.com");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.value().port, 80);
  EXPECT_EQ(plain.value().target, "/");
  EXPECT_FALSE(ParseHttpUrl("https://example.com/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://user:pw@example.com/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://example.com:99999/").ok());
  EXPECT_FALSE(ParseHttpUrl("http:///x").ok());
}

}  // namespace
}  // namespace sb::offload
