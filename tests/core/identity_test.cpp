#include "core/identity.h"

#include <gtest/gtest.h>

namespace sb {
namespace {

TEST(PlatformIdTest, AcceptsLowercaseLettersAndDigitsOfAllowedLength) {
  EXPECT_TRUE(IsValidPlatformId("abc"));
  EXPECT_TRUE(IsValidPlatformId("meta2"));
  EXPECT_TRUE(IsValidPlatformId(std::string(32, 'a')));
}

TEST(PlatformIdTest, RefusesShortLongAndOtherCharacters) {
  EXPECT_FALSE(IsValidPlatformId("ab"));
  EXPECT_FALSE(IsValidPlatformId(std::string(33, 'a')));
  EXPECT_FALSE(IsValidPlatformId("Meta"));
  EXPECT_FALSE(IsValidPlatformId("me-ta"));
  EXPECT_FALSE(IsValidPlatformId("me ta"));
}

TEST(AccountTest, AcceptsUtf8WithoutWhitespace) {
  EXPECT_TRUE(IsValidAccount("alice"));
  EXPECT_TRUE(IsValidAccount("\xE5\xBC\xA0\xE4\xB8\x89"));  // two CJK characters
  EXPECT_TRUE(IsValidAccount("a.b-c_d+e@x"));
  EXPECT_TRUE(IsValidAccount(std::string(128, 'x')));
}

TEST(AccountTest, RefusesEmptyLongWhitespaceControlAndBadUtf8) {
  EXPECT_FALSE(IsValidAccount(""));
  EXPECT_FALSE(IsValidAccount(std::string(129, 'x')));
  EXPECT_FALSE(IsValidAccount("al ice"));
  EXPECT_FALSE(IsValidAccount("al\tice"));
  EXPECT_FALSE(IsValidAccount(std::string("al\0ice", 6)));
  EXPECT_FALSE(IsValidAccount("al\x7Fice"));
  EXPECT_FALSE(IsValidAccount("\xE3\x80\x80"));  // ideographic space
  EXPECT_FALSE(IsValidAccount("\xC0\xAF"));      // overlong
  EXPECT_FALSE(IsValidAccount("\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(IsValidAccount("\xE5\xBC"));      // truncated
}

TEST(PlatformIdStemTest, DerivesFromName) {
  EXPECT_EQ(PlatformIdStem("Meta World"), "metaworld");
  EXPECT_EQ(PlatformIdStem("Shop-2!"), "shop2");
  EXPECT_EQ(PlatformIdStem("ab"), "");
  EXPECT_EQ(PlatformIdStem(std::string(40, 'Z')).size(), kPlatformIdMaxLength - 4);
}

TEST(AddressTest, FormatsAsAccountAtPlatform) {
  EXPECT_EQ((Address{"meta", "alice"}).ToString(), "alice@meta");
}

}  // namespace
}  // namespace sb
