#include "server/heap_trimmer.h"

#include <gtest/gtest.h>

namespace sb::server {
namespace {

class HeapTrimmerTest : public ::testing::Test {
 protected:
  int trims_ = 0;
  HeapTrimmer trimmer_{100, [this] { ++trims_; }};
};

TEST_F(HeapTrimmerTest, TrimsOnceWhenABurstOfOpensIsOver) {
  EXPECT_FALSE(trimmer_.Observe(60, 60));
  EXPECT_FALSE(trimmer_.Observe(150, 150));  // still arriving
  EXPECT_TRUE(trimmer_.Observe(150, 150));   // a quiet tick: the burst is over
  EXPECT_FALSE(trimmer_.Observe(150, 150));  // nothing new since
  EXPECT_EQ(trims_, 1);
  EXPECT_EQ(trimmer_.trims(), 1u);
}

TEST_F(HeapTrimmerTest, SmallChurnNeverTrims) {
  for (std::uint64_t accepted = 0; accepted < 99; accepted += 33) {
    trimmer_.Observe(accepted, accepted);
    trimmer_.Observe(accepted, accepted);
  }
  EXPECT_EQ(trims_, 0);
}

TEST_F(HeapTrimmerTest, ClosingABurstOfConnectionsTrimsToo) {
  trimmer_.Observe(150, 150);
  ASSERT_TRUE(trimmer_.Observe(150, 150));
  EXPECT_FALSE(trimmer_.Observe(150, 100));  // 50 closed: not enough
  EXPECT_TRUE(trimmer_.Observe(150, 20));    // 130 closed since the last trim, none opened
  EXPECT_EQ(trims_, 2);
}

}  // namespace
}  // namespace sb::server
