// Offload through the real binary, on the sample topology: a platform sets a policy over HTTP, the
// operator reports a location, a message carries the edge route, the terminals view shows location
// and path; an exposure platform's traffic-influence request moves its terminal and its webhook
// hears about it.
#include <string>

#include "../offload/webhook_receiver.h"
#include "harness.h"

namespace sb::itest {
namespace {

constexpr const char* kSzTai = "460-00-001a01";
constexpr const char* kSzCell = "460-00-001a01001";
constexpr const char* kShTai = "460-00-002c01";
constexpr const char* kUncoveredTai = "460-00-003d01";

class OffloadTest : public IntegrationTest {
 protected:
  std::string ConfigToml() const override {
    return std::string("topology = \"") + SB_SAMPLE_TOPOLOGY + "\"\n[offload]\ntick_ms = 100\n";
  }
  void SetUp() override {
    IntegrationTest::SetUp();
    meta_ = Register("meta", {"alice"});
    shop_ = Register("shop", {"bob"});
  }

  ApiReply PutPolicy(const Platform& platform, const json::value& body) {
    return api().Call("PUT", "/v1/platforms/" + platform.id + "/offload-policy", platform.api_key,
                      body);
  }
  ApiReply ReportLocation(const std::string& platform, const std::string& account,
                          const std::string& tai, const std::string& cell = {}) {
    json::object body{{"platform", platform}, {"account", account}, {"tai", tai}};
    if (!cell.empty()) body["cell"] = cell;
    return api().Call("POST", "/v1/network/location-reports", OperatorToken(), body);
  }
  // The route of the next message `bob` receives from alice.
  json::object RouteOfNextMessage(Terminal& alice, Terminal& bob, const std::string& text) {
    alice.SendAccepted(meta_.At("alice"), shop_.At("bob"), text);
    return bob.Expect("message").at("route").as_object();
  }

  Platform meta_;
  Platform shop_;
};

TEST_F(OffloadTest, LocationPolicyPutsTheMessageOnTheEdgeAndTheViewShowsThePath) {
  ApiReply put = PutPolicy(meta_, json::parse(R"({"kind":"location","params":{"areas":[
      {"dnai":"dnai-sz-nanshan"}]}})"));
  ASSERT_EQ(put.status, 200) << put.Describe();
  EXPECT_EQ(Str(put.body.as_object(), "kind"), "location");
  auto alice = Connect(meta_, "alice");
  auto bob = Connect(shop_, "bob");
  EXPECT_EQ(Str(RouteOfNextMessage(*alice, *bob, "before"), "site"), "core-bj");

  ApiReply report = ReportLocation(meta_.id, "alice", kSzTai, kSzCell);
  ASSERT_EQ(report.status, 200) << report.Describe();
  const auto& terminals = report.body.at("terminals").as_array();
  ASSERT_EQ(terminals.size(), 1u);
  EXPECT_EQ(Str(terminals[0].as_object(), "outcome"), "inserted");

  json::object route = RouteOfNextMessage(*alice, *bob, "after");
  EXPECT_EQ(Str(route, "site"), "edge-sz");
  EXPECT_EQ(Str(route, "dnai"), "dnai-sz-nanshan");
  EXPECT_EQ(Str(route, "ulcl"), "ulcl-sz");
  EXPECT_EQ(Str(route, "psa"), "psa-sz");

  ApiReply view = api().Call("GET", "/v1/terminals/" + meta_.id + "/alice", meta_.api_key);
  ASSERT_EQ(view.status, 200) << view.Describe();
  const auto& entry = view.body.at("terminals").as_array().at(0).as_object();
  EXPECT_EQ(Str(entry.at("location").as_object(), "tai"), kSzTai);
  EXPECT_EQ(Str(entry.at("location").as_object(), "cell"), kSzCell);
  const auto& path = entry.at("path").as_object();
  EXPECT_EQ(Str(path, "site"), "edge-sz");
  EXPECT_EQ(Str(path, "policy_kind"), "location");
  EXPECT_EQ(Str(path, "reason_code"), "area_match");
  EXPECT_GT(path.at("since").to_number<std::int64_t>(), 0);
  EXPECT_EQ(Str(entry.at("route").as_object(), "site"), "edge-sz");

  // Leaving the area takes the path away again.
  ApiReply away = ReportLocation(meta_.id, "alice", kUncoveredTai);
  ASSERT_EQ(away.status, 200) << away.Describe();
  EXPECT_EQ(Str(away.body.at("terminals").as_array().at(0).as_object(), "outcome"), "removed");
  EXPECT_EQ(Str(RouteOfNextMessage(*alice, *bob, "back"), "site"), "core-bj");

  const std::string metrics = Metrics();
  EXPECT_EQ(MetricValue(metrics, "switchboard_egress_messages_total", "site=\"edge-sz\""), 1);
  EXPECT_EQ(MetricValue(metrics, "switchboard_offload_decisions_total", "outcome=\"inserted\""), 1);
}

TEST_F(OffloadTest, TerminalsOwnLocationFrameMovesIt) {
  ASSERT_EQ(PutPolicy(meta_, json::parse(R"({"kind":"location_application","params":{"areas":[
      {"dnai":"dnai-sh-pudong"}],"applications":["chat"]}})"))
                .status,
            200);
  auto alice = Connect(meta_, "alice");
  auto bob = Connect(shop_, "bob");
  alice->SendJson(json::object{{"type", "location"}, {"tai", kShTai}, {"cell", ""}});
  // Frames of one connection are handled in order: the location is in place before the send.
  EXPECT_EQ(Str(RouteOfNextMessage(*alice, *bob, "hi"), "psa"), "psa-sh");
}

TEST_F(OffloadTest, RefusesBadParametersUnknownPartiesAndWrongCallers) {
  EXPECT_TRUE(IsApiError(PutPolicy(meta_, json::parse(R"({"kind":"location","params":{"areas":[
      {"dnai":"dnai-mars"}]}})")),
                         422, "invalid_params"));
  ApiReply bad_tai = ReportLocation(meta_.id, "alice", "460-00-ffffff");
  EXPECT_TRUE(IsApiError(bad_tai, 422, "invalid_params"));
  EXPECT_NE(bad_tai.raw.find("460-00-ffffff"), std::string::npos);
  EXPECT_TRUE(IsApiError(ReportLocation(meta_.id, "nobody", kSzTai), 404, "not_found"));
  EXPECT_TRUE(IsApiError(ReportLocation("ghost", "alice", kSzTai), 404, "platform_not_registered"));
  EXPECT_TRUE(IsApiError(
      api().Call("POST", "/v1/network/location-reports", meta_.api_key,
                 json::object{{"platform", meta_.id}, {"account", "alice"}, {"tai", kSzTai}}),
      403, "forbidden"));
  EXPECT_TRUE(IsApiError(api().Call("PUT", "/v1/platforms/" + meta_.id + "/offload-policy",
                                    shop_.api_key, json::parse(R"({"kind":"exposure"})")),
                         403, "forbidden"));
  EXPECT_TRUE(
      IsApiError(api().Call("GET", "/v1/platforms/" + meta_.id + "/offload-policy", meta_.api_key),
                 404, "not_found"));
  EXPECT_TRUE(IsApiError(
      api().Call("POST", "/v1/platforms/" + meta_.id + "/traffic-influence", meta_.api_key,
                 json::parse(R"({"any_account":true,"dnais":["dnai-sz-nanshan"]})")),
      409, "conflict"));
}

TEST_F(OffloadTest, ExposureRequestMovesTheTerminalAndNotifiesThePlatform) {
  offload::testing::WebhookReceiver receiver;
  ASSERT_EQ(PutPolicy(meta_, json::parse(R"({"kind":"exposure"})")).status, 200);
  ApiReply created =
      api().Call("POST", "/v1/platforms/" + meta_.id + "/traffic-influence", meta_.api_key,
                 json::object{{"accounts", json::array{"alice"}},
                              {"dnais", json::array{"dnai-sh-pudong"}},
                              {"spatial_validity", json::object{{"tais", json::array{kShTai}}}},
                              {"notification_url", receiver.Url("/offload")}});
  ASSERT_EQ(created.status, 201) << created.Describe();
  const std::string id = Str(created.body.as_object(), "id");
  ApiReply listed =
      api().Call("GET", "/v1/platforms/" + meta_.id + "/traffic-influence", OperatorToken());
  ASSERT_EQ(listed.status, 200) << listed.Describe();
  EXPECT_EQ(listed.body.at("traffic_influence").as_array().size(), 1u);

  auto alice = Connect(meta_, "alice");
  auto bob = Connect(shop_, "bob");
  ASSERT_EQ(ReportLocation(meta_.id, "alice", kShTai).status, 200);
  EXPECT_EQ(Str(RouteOfNextMessage(*alice, *bob, "edge"), "site"), "edge-sh");
  ASSERT_TRUE(receiver.WaitForDelivered(1));
  const std::string inserted = receiver.Delivered().at(0);
  EXPECT_EQ(inserted.rfind("POST /offload ", 0), 0u) << inserted;
  EXPECT_NE(inserted.find("\"outcome\":\"inserted\""), std::string::npos) << inserted;
  EXPECT_NE(inserted.find("\"request_id\":\"" + id + "\""), std::string::npos) << inserted;

  ApiReply deleted =
      api().Call("DELETE", "/v1/platforms/" + meta_.id + "/traffic-influence/" + id, meta_.api_key);
  ASSERT_EQ(deleted.status, 200) << deleted.Describe();
  ASSERT_TRUE(receiver.WaitForDelivered(2));
  EXPECT_NE(receiver.Delivered().at(1).find("\"outcome\":\"removed\""), std::string::npos);
  EXPECT_EQ(Str(RouteOfNextMessage(*alice, *bob, "main"), "site"), "core-bj");
}

TEST_F(OffloadTest, CatalogListsTheKindsAndPoliciesSurviveARestart) {
  ApiReply catalog = api().Call("GET", "/v1/offload-policies", shop_.api_key);
  ASSERT_EQ(catalog.status, 200) << catalog.Describe();
  EXPECT_EQ(catalog.body.at("kinds").as_array().size(), 4u);
  EXPECT_EQ(catalog.body.at("topology").at("edges").as_array().size(), 3u);

  ASSERT_EQ(PutPolicy(meta_, json::parse(R"({"kind":"location_subscription","params":{
      "areas":[{"dnai":"dnai-gz-tianhe"}],"accounts":["alice"]}})"))
                .status,
            200);
  exchange().Restart();
  ApiReply read = api().Call("GET", "/v1/platforms/" + meta_.id + "/offload-policy", meta_.api_key);
  ASSERT_EQ(read.status, 200) << read.Describe();
  EXPECT_EQ(Str(read.body.as_object(), "kind"), "location_subscription");
  ApiReply platform = api().Call("GET", "/v1/platforms/" + meta_.id, OperatorToken());
  EXPECT_EQ(Str(platform.body.at("offload_policy").as_object(), "kind"), "location_subscription");
}

}  // namespace
}  // namespace sb::itest
