// Platform and process lifecycle through the real binary: deregistration, key rotation, metrics,
// graceful shutdown and restart.
#include <chrono>
#include <ctime>
#include <string>
#include <thread>

#include "harness.h"

namespace sb::itest {
namespace {

using LifecycleTest = IntegrationTest;

TEST_F(LifecycleTest, DeregistrationDisconnectsTerminals) {
  Platform meta = Register("Meta World", {"alice"});
  Platform other = Register("Other Place", {"bob"});
  auto alice = Connect(meta, "alice");
  auto bob = Connect(other, "bob");

  ApiReply reply = api().Call("DELETE", "/v1/platforms/" + other.id, OperatorToken());
  ASSERT_EQ(reply.status, 200) << reply.Describe();
  EXPECT_EQ(Str(reply.body.as_object(), "platform_id"), other.id);
  EXPECT_TRUE(reply.body.at("deregistered").as_bool());

  EXPECT_TRUE(IsFrame(bob->WaitForType("error"), "error", "platform_not_registered"));
  EXPECT_TRUE(bob->WaitClosed());

  // The platform is gone for senders, for its key, and for new terminals.
  const std::string id = alice->SendText(meta.At("alice"), other.At("bob"), "anyone there?");
  EXPECT_TRUE(IsFrame(alice->WaitForAnswer(id), "rejected", "platform_not_registered"));
  EXPECT_TRUE(IsApiError(api().Call("GET", "/v1/platforms/" + other.id, OperatorToken()), 404,
                         "platform_not_registered"));
  Terminal late(exchange().Port());
  EXPECT_TRUE(IsFrame(late.HelloExpectingError(other.Token("bob"), "d"), "error",
                      "platform_not_registered"));

  // Its id is never reused.
  Platform again = Register("Other Place", {"bob"});
  EXPECT_NE(again.id, other.id);
}

TEST_F(LifecycleTest, RotatedKeyWorksAndOldKeyIsRefused) {
  Platform p = Register("Alpha", {"alice"});
  const std::string old_token = p.Token("alice");
  auth::SigningKey fresh = auth::SigningKey::Generate();

  ApiReply reply =
      api().Call("PUT", "/v1/platforms/" + p.id + "/jwks", p.api_key, JwksFor(fresh, "k2"));
  ASSERT_EQ(reply.status, 200) << reply.Describe();

  Terminal with_new(exchange().Port());
  EXPECT_NO_THROW(
      with_new.Hello(fresh.MintToken(p.id, "alice", std::time(nullptr), 3600, "k2"), "device-1"));
  Terminal with_old(exchange().Port());
  EXPECT_TRUE(IsFrame(with_old.HelloExpectingError(old_token, "device-2"), "error", "bad_token"));
  EXPECT_TRUE(with_old.WaitClosed());
}

TEST_F(LifecycleTest, MetricsCountAcceptedAndSpoofedSends) {
  Platform p = Register("Alpha", {"alice", "amy"});
  auto alice = Connect(p, "alice");
  const std::string before = Metrics();
  const double accepted_before = MetricValue(before, "switchboard_messages_accepted_total");
  const double mismatch_before =
      MetricValue(before, "switchboard_messages_rejected_total", "code=\"sender_mismatch\"");

  alice->SendAccepted(p.At("alice"), p.At("amy"), "counted");
  const std::string spoof = alice->SendText(p.At("amy"), p.At("alice"), "spoof");
  ASSERT_TRUE(IsFrame(alice->WaitForAnswer(spoof), "rejected", "sender_mismatch"));

  const std::string after = Metrics();
  EXPECT_NE(after.find("switchboard_messages_accepted_total"), std::string::npos) << after;
  EXPECT_NE(after.find("switchboard_messages_rejected_total{code=\"sender_mismatch\"}"),
            std::string::npos)
      << after;
  EXPECT_EQ(MetricValue(after, "switchboard_messages_accepted_total"), accepted_before + 1);
  EXPECT_EQ(MetricValue(after, "switchboard_messages_rejected_total", "code=\"sender_mismatch\""),
            mismatch_before + 1);
}

TEST_F(LifecycleTest, SigtermExitsZeroAndStateSurvivesRestart) {
  Platform p = Register("Alpha", {"alice", "amy"});
  {
    auto alice = Connect(p, "alice");
    alice->SendAccepted(p.At("alice"), p.At("amy"), "kept across restarts");
  }

  EXPECT_EQ(exchange().Stop(), 0);
  exchange().Start();

  ApiReply reply = api().Call("GET", "/v1/platforms/" + p.id, p.api_key);
  ASSERT_EQ(reply.status, 200) << reply.Describe();
  EXPECT_EQ(Str(reply.body.as_object(), "name"), "Alpha");
  auto amy = Connect(p, "amy");
  EXPECT_EQ(Str(amy->Expect("message").at("content").as_object(), "text"), "kept across restarts");
}

TEST_F(LifecycleTest, SigtermWithConnectedTerminalsExitsZero) {
  Platform p = Register("Alpha", {"alice"});
  auto alice = Connect(p, "alice");

  // The terminal keeps reading while the exchange stops, as a live client would, so that it
  // answers the exchange's close frame.
  bool closed = false;
  std::thread reader([&alice, &closed] { closed = alice->WaitClosed(); });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(exchange().Stop(), 0);
  const auto took = std::chrono::steady_clock::now() - started;
  reader.join();

  EXPECT_TRUE(closed);
  EXPECT_EQ(alice->ws().CloseCode(), 1001);  // going away
  EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace
}  // namespace sb::itest
