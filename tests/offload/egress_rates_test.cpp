// Message rates per site from samples of the egress counters, over a sliding window.
#include "offload/egress_rates.h"

#include <gtest/gtest.h>

namespace sb::offload {
namespace {

TEST(EgressRatesTest, NoRateFromOneSample) {
  EgressRates rates(5000);
  EXPECT_TRUE(rates.PerSecond().empty());
  rates.Add(1000, {{"edge-sz", 4}});
  EXPECT_DOUBLE_EQ(rates.PerSecond().at("edge-sz"), 0.0);
}

TEST(EgressRatesTest, GrowthOverTheTimeBetweenSamples) {
  EgressRates rates(5000);
  rates.Add(0, {{"core-bj", 10}});
  rates.Add(1000, {{"core-bj", 12}, {"edge-sz", 3}});
  rates.Add(2000, {{"core-bj", 14}, {"edge-sz", 9}});
  auto per_second = rates.PerSecond();
  EXPECT_DOUBLE_EQ(per_second.at("core-bj"), 2.0);  // 4 messages in 2 s
  EXPECT_DOUBLE_EQ(per_second.at("edge-sz"), 4.5);  // a new site counts from 0
}

TEST(EgressRatesTest, OldSamplesLeaveTheWindow) {
  EgressRates rates(5000);
  rates.Add(0, {{"edge-sz", 0}});
  rates.Add(1000, {{"edge-sz", 100}});
  rates.Add(7000, {{"edge-sz", 100}});
  rates.Add(8000, {{"edge-sz", 100}});
  // The base is the last sample at or before 3000 (the one at 1000): nothing since.
  EXPECT_DOUBLE_EQ(rates.PerSecond().at("edge-sz"), 0.0);
  rates.Add(9000, {{"edge-sz", 116}});
  EXPECT_DOUBLE_EQ(rates.PerSecond().at("edge-sz"), 2.0);  // 16 over 8 s (base still at 1000)
}

}  // namespace
}  // namespace sb::offload
