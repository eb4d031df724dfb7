// The webhook sender against a real HTTP receiver: delivery, retries with backoff after failures,
// and giving up after the bounded number of attempts. Also the config wiring of the topology.
#include <gtest/gtest.h>

#include <fstream>

#include "server/config.h"
#include "server/webhook_sender.h"
#include "support/test_loop.h"
#include "webhook_receiver.h"

namespace sb::server {
namespace {

using offload::testing::WebhookReceiver;

WebhookOptions FastOptions(int attempts) {
  WebhookOptions options;
  options.max_attempts = attempts;
  options.first_backoff = std::chrono::milliseconds(1);
  options.timeout = std::chrono::milliseconds(5000);
  return options;
}

double Count(MetricsRegistry& metrics, const char* outcome) {
  return static_cast<double>(
      metrics.GetCounter("switchboard_offload_notifications_total", "", {{"outcome", outcome}})
          .Value());
}

TEST(WebhookSenderTest, PostsTheBodyToTheUrl) {
  WebhookReceiver receiver;
  MetricsRegistry metrics;
  {
    WebhookSender sender(metrics, FastOptions(3));
    sender.Send(receiver.Url("/offload/events"), R"({"event":"up_path_change"})");
    ASSERT_TRUE(receiver.WaitForDelivered(1));
  }
  EXPECT_EQ(receiver.Delivered().front(), R"(POST /offload/events {"event":"up_path_change"})");
  EXPECT_EQ(Count(metrics, "delivered"), 1);
}

TEST(WebhookSenderTest, RetriesAfterFailuresUntilDelivered) {
  WebhookReceiver receiver(2);
  MetricsRegistry metrics;
  {
    WebhookSender sender(metrics, FastOptions(5));
    sender.Send(receiver.Url(), "{}");
    ASSERT_TRUE(receiver.WaitForDelivered(1));
  }
  EXPECT_EQ(receiver.Attempts(), 3);
  EXPECT_EQ(Count(metrics, "retried"), 2);
  EXPECT_EQ(Count(metrics, "delivered"), 1);
}

TEST(WebhookSenderTest, GivesUpAfterTheLastAttempt) {
  WebhookReceiver receiver(1000);
  MetricsRegistry metrics;
  Counter& failed =
      metrics.GetCounter("switchboard_offload_notifications_total", "", {{"outcome", "failed"}});
  WebhookSender sender(metrics, FastOptions(3));
  sender.Send(receiver.Url(), "{}");
  ASSERT_TRUE(sender.WaitIdle(std::chrono::seconds(20)));
  EXPECT_EQ(failed.Value(), 1u);
  EXPECT_EQ(receiver.Attempts(), 3);
  EXPECT_EQ(Count(metrics, "retried"), 2);
}

TEST(WebhookSenderTest, UnreachableReceiverCountsAsAFailedAttempt) {
  MetricsRegistry metrics;
  std::string url;
  {
    WebhookReceiver gone;
    url = gone.Url();
  }
  Counter& failed =
      metrics.GetCounter("switchboard_offload_notifications_total", "", {{"outcome", "failed"}});
  {
    WebhookSender sender(metrics, FastOptions(2));
    sender.Send(url, "{}");
    ASSERT_TRUE(sender.WaitIdle(std::chrono::seconds(20)));
  }
  EXPECT_EQ(failed.Value(), 1u);
}

TEST(OffloadConfigTest, TopologyPathIsReadRelativeToTheConfigFile) {
  sb::testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "net");
  std::filesystem::copy_file(SB_SAMPLE_TOPOLOGY, dir.path() / "net" / "topo.json");
  {
    std::ofstream out(dir.File("switchboard.toml"));
    out << "topology = \"net/topo.json\"\n[offload]\ntick_ms = 250\n";
  }
  Config config = LoadConfigFile(dir.File("switchboard.toml"));
  EXPECT_EQ(config.topology_path, (dir.path() / "net" / "topo.json").string());
  EXPECT_EQ(config.offload_tick_ms, 250);
  offload::Topology topology = LoadTopology(config);
  EXPECT_EQ(topology.main().site, "core-bj");
  EXPECT_EQ(topology.edges().size(), 3u);
}

TEST(OffloadConfigTest, WithoutTopologyOnlyTheMainAnchorOfTheConfigExists) {
  Config config;
  config.main_route = Route{"main", "dnai-main", "", "psa-main"};
  offload::Topology topology = LoadTopology(config);
  EXPECT_FALSE(topology.HasEdges());
  EXPECT_EQ(topology.MainRoute(), config.main_route);
}

TEST(OffloadConfigTest, UnreadableTopologyStopsStartUp) {
  Config config;
  config.topology_path = "/nonexistent/topology.json";
  EXPECT_THROW(LoadTopology(config), std::runtime_error);
}

}  // namespace
}  // namespace sb::server
