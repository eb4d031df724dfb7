#include "auth/secret.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace sb::auth {
namespace {

std::vector<std::uint8_t> Bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

bool IsBase64UrlText(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// RFC 4648 section 10, without the padding that base64url in JOSE leaves out.
TEST(Base64UrlTest, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("fooba"), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
}

TEST(Base64UrlTest, DecodesRfc4648Vectors) {
  EXPECT_EQ(Base64UrlDecode(""), Bytes(""));
  EXPECT_EQ(Base64UrlDecode("Zg"), Bytes("f"));
  EXPECT_EQ(Base64UrlDecode("Zm8"), Bytes("fo"));
  EXPECT_EQ(Base64UrlDecode("Zm9v"), Bytes("foo"));
  EXPECT_EQ(Base64UrlDecode("Zm9vYg"), Bytes("foob"));
  EXPECT_EQ(Base64UrlDecode("Zm9vYmE"), Bytes("fooba"));
  EXPECT_EQ(Base64UrlDecode("Zm9vYmFy"), Bytes("foobar"));
}

TEST(Base64UrlTest, UsesTheUrlAlphabet) {
  const std::uint8_t high[] = {0xFB, 0xFF, 0xBF};
  EXPECT_EQ(Base64UrlEncode(high, sizeof high), "-_-_");
  EXPECT_EQ(Base64UrlDecode("-_-_"), std::vector<std::uint8_t>(high, high + sizeof high));
}

TEST(Base64UrlTest, RoundTripsEveryLengthAndByteValue) {
  std::mt19937 rng(7);
  for (std::size_t size = 0; size <= 70; ++size) {
    std::vector<std::uint8_t> data(size);
    for (auto& b : data) {
      b = static_cast<std::uint8_t>(rng());
    }
    const std::string text = Base64UrlEncode(data.data(), data.size());
    EXPECT_EQ(text.size(), (size * 4 + 2) / 3) << "size " << size;
    EXPECT_TRUE(IsBase64UrlText(text)) << text;
    EXPECT_EQ(Base64UrlDecode(text), data) << "size " << size;
  }

  std::vector<std::uint8_t> all(256);
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i] = static_cast<std::uint8_t>(i);
  }
  EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(all.data(), all.size())), all);
}

TEST(Base64UrlTest, RefusesPadding) {
  EXPECT_EQ(Base64UrlDecode("Zg=="), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zg="), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm8="), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9v===="), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("===="), std::nullopt);
}

TEST(Base64UrlTest, RefusesCharactersOutsideTheAlphabet) {
  EXPECT_EQ(Base64UrlDecode("Zm9+"), std::nullopt);  // standard base64, not url
  EXPECT_EQ(Base64UrlDecode("Zm9/"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm 9v"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9v\n"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9."), std::nullopt);
  EXPECT_EQ(Base64UrlDecode(std::string_view("Zm\0v", 4)), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm\xC3\xA9"), std::nullopt);
}

TEST(Base64UrlTest, RefusesLengthsNoEncodingProduces) {
  EXPECT_EQ(Base64UrlDecode("Z"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9vY"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9vYmFyZ"), std::nullopt);
  // A lone final character whose bits are all zero must be refused for its length alone.
  EXPECT_EQ(Base64UrlDecode("A"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9vA"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("AAAAA"), std::nullopt);
}

TEST(Base64UrlTest, RefusesNonZeroTrailingBits) {
  // "Zg" is the only encoding of "f"; "Zh" carries a stray bit in the unused tail.
  EXPECT_EQ(Base64UrlDecode("Zh"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zv"), std::nullopt);
  // "Zm8" is the only encoding of "fo".
  EXPECT_EQ(Base64UrlDecode("Zm9"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm_"), std::nullopt);
  EXPECT_TRUE(Base64UrlDecode("Zm8").has_value());
}

TEST(RandomCredentialTest, StartsWithPrefixAndEncodesTheRequestedBytes) {
  const std::string credential = RandomCredential("sbp_");
  ASSERT_EQ(credential.size(), 4u + 43u);  // 32 bytes are 43 base64url characters
  EXPECT_EQ(credential.substr(0, 4), "sbp_");
  EXPECT_TRUE(IsBase64UrlText(credential.substr(4)));

  auto decoded = Base64UrlDecode(credential.substr(4));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->size(), 32u);

  EXPECT_EQ(RandomCredential("x", 16).size(), 1u + 22u);
  EXPECT_EQ(RandomCredential("", 3).size(), 4u);
  EXPECT_EQ(RandomCredential("only", 0), "only");
}

TEST(RandomCredentialTest, IsFreshEveryTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    seen.insert(RandomCredential("t_"));
  }
  EXPECT_EQ(seen.size(), 2000u);
}

TEST(RandomCredentialTest, UsesAllOfTheAlphabet) {
  // A generator stuck on few values would leave characters unused across this many draws.
  std::set<char> chars;
  for (int i = 0; i < 200; ++i) {
    for (char c : RandomCredential("", 30)) {
      chars.insert(c);
    }
  }
  EXPECT_EQ(chars.size(), 64u);
}

// FIPS 180-2 appendix B vectors.
TEST(Sha256HexTest, MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256HexTest, HashesEveryByteIncludingNul) {
  const std::string_view with_nul("a\0b", 3);
  EXPECT_NE(Sha256Hex(with_nul), Sha256Hex("a"));
  EXPECT_NE(Sha256Hex(with_nul), Sha256Hex("ab"));
  const std::string hex = Sha256Hex(with_nul);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(ConstantTimeEqualsTest, EqualOnlyForIdenticalBytes) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_TRUE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));

  EXPECT_FALSE(ConstantTimeEquals("secret", "Secret"));  // first byte
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));  // last byte
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(ConstantTimeEqualsTest, DifferentLengthsAreNeverEqual) {
  EXPECT_FALSE(ConstantTimeEquals("secret", "secrets"));
  EXPECT_FALSE(ConstantTimeEquals("secrets", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals("a", ""));
  // Same leading bytes, one a prefix of the other: only the length tells them apart.
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("ab\0", 3), "ab"));
}

TEST(ConstantTimeEqualsTest, AgreesWithOrdinaryComparison) {
  const std::string hash = Sha256Hex("platform key");
  EXPECT_TRUE(ConstantTimeEquals(hash, Sha256Hex("platform key")));
  EXPECT_FALSE(ConstantTimeEquals(hash, Sha256Hex("platform kez")));
}

}  // namespace
}  // namespace sb::auth
