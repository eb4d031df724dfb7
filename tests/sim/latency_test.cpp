// The latency model on the sample topology: each kind of leg, and whole deliveries.
#include "sim/latency.h"

#include <gtest/gtest.h>

#include "sample_topology.h"

namespace sb::sim {
namespace {

using namespace offload::testing;
using offload::Location;

class LatencyTest : public ::testing::Test {
 protected:
  offload::Topology topology_ = SampleTopology();
  LatencyModel model_{topology_};
  // The sample: edge-sz 13 ms to main, 0.5 local; edge-sh 8 and 0.5; edge-gz 12.5 and 0.5.
  Location sz_{kSzTai, kSzCell};
  Location sh_{kShTai, ""};
  Location uncovered_{kUncoveredTai, ""};
};

TEST_F(LatencyTest, LegsFromAnEdgeArea) {
  EXPECT_DOUBLE_EQ(model_.Leg(sz_, "edge-sz"), 0.5);
  EXPECT_DOUBLE_EQ(model_.Leg(sz_, "core-bj"), 13.5);
  EXPECT_DOUBLE_EQ(model_.Leg(sz_, "edge-sh"), 13.5 + 8.0);
}

TEST_F(LatencyTest, UncoveredAreasUseTheWorstCoveredAccess) {
  EXPECT_DOUBLE_EQ(model_.uncovered_access_ms(), 13.5);
  EXPECT_DOUBLE_EQ(model_.Leg(uncovered_, "core-bj"), 13.5);
  EXPECT_DOUBLE_EQ(model_.Leg(uncovered_, "edge-sz"), 13.5 + 13.0);
  EXPECT_DOUBLE_EQ(model_.Leg(Location{}, "core-bj"), 13.5);
  EXPECT_DOUBLE_EQ(LatencyModel(topology_, 20).Leg(uncovered_, "core-bj"), 20);
}

TEST_F(LatencyTest, DeliveriesAddBothLegs) {
  // Both in Shenzhen: 1 ms at the edge, 27 ms through Beijing.
  EXPECT_DOUBLE_EQ(model_.Delivery(sz_, "edge-sz", sz_), 1.0);
  EXPECT_DOUBLE_EQ(model_.Delivery(sz_, "core-bj", sz_), 27.0);
  // Shenzhen to Shanghai: offloading the sender gains nothing, the core is crossed anyway.
  EXPECT_DOUBLE_EQ(model_.Delivery(sz_, "core-bj", sh_), 13.5 + 8.5);
  EXPECT_DOUBLE_EQ(model_.Delivery(sz_, "edge-sz", sh_), 0.5 + 8.5 + 13.0);
}

}  // namespace
}  // namespace sb::sim
