#include "delivery/dedup_index.h"

#include <gtest/gtest.h>

namespace sb::delivery {
namespace {

const Address kAlice{"metaworld", "alice"};

TEST(DedupIndexTest, KeysTellEveryPartApart) {
  DedupIndex index;
  const auto key = index.KeyOf(kAlice, "phone", "c1");
  EXPECT_EQ(index.KeyOf(kAlice, "phone", "c1"), key);
  EXPECT_NE(index.KeyOf(kAlice, "phone", "c2"), key);
  EXPECT_NE(index.KeyOf(kAlice, "tablet", "c1"), key);
  EXPECT_NE(index.KeyOf({"metaworld", "bob"}, "phone", "c1"), key);
  EXPECT_NE(index.KeyOf({"shop", "alice"}, "phone", "c1"), key);
  // The same bytes split differently between the parts are another key.
  EXPECT_NE(index.KeyOf(kAlice, "phonec", "1"), key);
  EXPECT_NE(index.KeyOf({"metaworld", "alicephone"}, "", "c1"), key);
}

TEST(DedupIndexTest, FindsWhatWasAddedUntilItExpires) {
  DedupIndex index;
  const auto first = index.KeyOf(kAlice, "phone", "c1");
  const auto second = index.KeyOf(kAlice, "phone", "c2");
  index.Add(first, {0x10001, 1}, 100);
  index.Add(second, {0x20001, 2}, 200);
  ASSERT_NE(index.Find(first), nullptr);
  EXPECT_EQ(index.Find(first)->seq, 0x10001u);
  EXPECT_EQ(index.Find(first)->ts_ms, 1);
  EXPECT_EQ(index.size(), 2u);

  index.Expire(99);
  EXPECT_NE(index.Find(first), nullptr);
  index.Expire(100);
  EXPECT_EQ(index.Find(first), nullptr);
  ASSERT_NE(index.Find(second), nullptr);
  EXPECT_EQ(index.Find(second)->seq, 0x20001u);
  index.Expire(1000);
  EXPECT_EQ(index.size(), 0u);
}

TEST(DedupIndexTest, RecordsLoadedOutOfOrderExpireInOrderOnceSorted) {
  DedupIndex index;
  const auto late = index.KeyOf(kAlice, "phone", "late");
  const auto early = index.KeyOf(kAlice, "phone", "early");
  index.Add(late, {2, 2}, 300);
  index.Add(early, {1, 1}, 100);
  index.SortExpiry();
  index.Expire(150);
  EXPECT_EQ(index.Find(early), nullptr);
  EXPECT_NE(index.Find(late), nullptr);
}

TEST(DedupIndexTest, AKeyAddedAgainKeepsItsNewExpiry) {
  DedupIndex index;
  const auto key = index.KeyOf(kAlice, "phone", "c1");
  index.Add(key, {1, 1}, 100);
  index.Add(key, {2, 2}, 300);  // the first expired unseen, and the client id was used again
  index.Expire(150);
  ASSERT_NE(index.Find(key), nullptr);
  EXPECT_EQ(index.Find(key)->seq, 2u);
  index.Expire(300);
  EXPECT_EQ(index.Find(key), nullptr);
}

}  // namespace
}  // namespace sb::delivery
