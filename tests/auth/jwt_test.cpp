#include "auth/jwt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "auth/secret.h"

namespace sb::auth {
namespace {

// RFC 8037 appendix A: the Ed25519 key pair (A.1, A.2) and the JWS it signs (A.4).
constexpr std::string_view kRfcSeed = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr std::string_view kRfcX = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr std::string_view kRfcHeader = R"({"alg":"EdDSA"})";
constexpr std::string_view kRfcPayload = "Example of Ed25519 signing";
constexpr std::string_view kRfcSigningInput =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
constexpr std::string_view kRfcSignature =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

// Minted by another implementation (Python's `cryptography` and `json`) with the RFC key: spaced
// JSON, an audience list, a fractional exp and an unknown claim, kid "rfc".
constexpr std::string_view kForeignToken =
    "eyJ0eXAiOiAiSldUIiwgImFsZyI6ICJFZERTQSIsICJraWQiOiAicmZjIn0."
    "eyJzdWIiOiAiYWxpY2UiLCAiaXNzIjogInAxIiwgImF1ZCI6IFsib3RoZXIiLCAic3dpdGNoYm9hcmQiXSwgImlhdCI6"
    "IDE3MDAwMDAwMDAsICJleHAiOiAxNzAwMDAwMzAwLjUsICJqdGkiOiAieCJ9."
    "xSQoTclPsdUIVPhUNF2gtVZ-AnOHErSOSJ5x40EJIHzZ0LkNGx1xYGPyLA93sHuyFbk7ZJnjI40ifQeD2_2GDw";

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kTtl = 300;
constexpr std::string_view kHeader = R"({"alg":"EdDSA","typ":"JWT"})";

SigningKey RfcKey() {
  auto key = SigningKey::FromSeed(kRfcSeed);
  if (!key.ok()) {
    ADD_FAILURE() << "the RFC 8037 seed is refused: " << key.error().message;
    return SigningKey::Generate();
  }
  return std::move(key).value();
}

JwkSet SetOf(std::vector<Jwk> keys) {
  JwkSet set;
  set.keys = std::move(keys);
  return set;
}

std::string Text(const std::vector<std::uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

// Holds when `result` failed with `code` and a message containing `fragment`.
template <typename T>
testing::AssertionResult Fails(const Result<T>& result, ErrorCode code,
                               std::string_view fragment = "") {
  if (result.ok()) {
    return testing::AssertionFailure() << "succeeded; want " << ErrorCodeName(code);
  }
  const Error& error = result.error();
  if (error.code != code) {
    return testing::AssertionFailure() << "failed with " << ErrorCodeName(error.code) << " ("
                                       << error.message << "); want " << ErrorCodeName(code);
  }
  if (error.message.find(fragment) == std::string::npos) {
    return testing::AssertionFailure()
           << "message \"" << error.message << "\" does not mention \"" << fragment << "\"";
  }
  return testing::AssertionSuccess();
}

template <typename T>
testing::AssertionResult Succeeds(const Result<T>& result) {
  if (result.ok()) {
    return testing::AssertionSuccess();
  }
  return testing::AssertionFailure()
         << ErrorCodeName(result.error().code) << ": " << result.error().message;
}

Status ParseAndVerify(std::string_view token, const JwkSet& keys, std::int64_t now_s,
                      std::int64_t skew_s = 60) {
  auto parsed = ParseToken(token);
  if (!parsed) {
    return parsed.error();
  }
  return VerifyToken(parsed.value(), keys, now_s, skew_s);
}

// The claims of a valid token as raw JSON members, to be altered one at a time.
class Claims {
 public:
  Claims& Set(const std::string& name, std::string raw_json) {
    for (auto& member : members_) {
      if (member.first == name) {
        member.second = std::move(raw_json);
        return *this;
      }
    }
    members_.emplace_back(name, std::move(raw_json));
    return *this;
  }

  Claims& Drop(const std::string& name) {
    std::erase_if(members_, [&](const auto& member) { return member.first == name; });
    return *this;
  }

  std::string Json() const {
    std::string json = "{";
    for (const auto& [name, raw] : members_) {
      if (json.size() > 1) {
        json += ",";
      }
      json.append("\"").append(name).append("\":").append(raw);
    }
    return json + "}";
  }

 private:
  std::vector<std::pair<std::string, std::string>> members_ = {
      {"iss", R"("p1")"},
      {"sub", R"("alice")"},
      {"aud", R"("switchboard")"},
      {"iat", std::to_string(kNow)},
      {"exp", std::to_string(kNow + kTtl)},
  };
};

// Replaces part `index` (0 header, 1 payload, 2 signature) of a compact token.
std::string WithPart(std::string_view token, int index, std::string_view part) {
  std::vector<std::string> parts(1);
  for (char c : token) {
    if (c == '.') {
      parts.emplace_back();
    } else {
      parts.back().push_back(c);
    }
  }
  parts.at(static_cast<std::size_t>(index)) = std::string(part);
  std::string out;
  for (const auto& p : parts) {
    out += (out.empty() ? "" : ".") + p;
  }
  return out;
}

class TokenTest : public testing::Test {
 protected:
  std::string Sign(std::string_view header, const Claims& claims) const {
    return key_.SignCompact(header, claims.Json());
  }
  std::string Mint(const std::string& kid = "k1") const {
    return key_.MintToken("p1", "alice", kNow, kTtl, kid);
  }

  SigningKey key_ = SigningKey::Generate();
  SigningKey other_ = SigningKey::Generate();
  JwkSet keys_ = SetOf({key_.PublicJwk("k1")});
};

TEST(Rfc8037Test, SeedGivesThePublicKey) {
  const Jwk jwk = RfcKey().PublicJwk("");
  EXPECT_EQ(Base64UrlEncode(jwk.x.data(), jwk.x.size()), kRfcX);
  EXPECT_EQ(RfcKey().Seed(), kRfcSeed);
}

TEST(Rfc8037Test, SigningGivesTheRfcSignature) {
  const std::string jws = RfcKey().SignCompact(kRfcHeader, kRfcPayload);
  EXPECT_EQ(jws, std::string(kRfcSigningInput) + "." + std::string(kRfcSignature));
}

TEST(Rfc8037Test, RfcSignatureVerifiesAgainstTheRfcJwk) {
  auto keys = JwkSet::Parse(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")" + std::string(kRfcX) +
                            R"("}]})");
  ASSERT_TRUE(Succeeds(keys));
  auto signature = Base64UrlDecode(kRfcSignature);
  ASSERT_TRUE(signature.has_value());

  // Built by hand: the RFC payload is plain text, not claims, so ParseToken refuses it.
  ParsedToken token{TokenClaims{.exp = kNow}, std::string(kRfcSigningInput), *signature};
  EXPECT_TRUE(Succeeds(VerifyToken(token, keys.value(), kNow)));

  token.signing_input.back() = 'n';
  EXPECT_TRUE(Fails(VerifyToken(token, keys.value(), kNow), ErrorCode::kBadToken));
  EXPECT_TRUE(Fails(ParseToken(std::string(kRfcSigningInput) + "." + std::string(kRfcSignature)),
                    ErrorCode::kBadToken, "payload"));
}

TEST(Rfc8037Test, TokenFromAnotherImplementationVerifies) {
  auto parsed = ParseToken(kForeignToken);
  ASSERT_TRUE(Succeeds(parsed));
  EXPECT_EQ(parsed.value().claims.iss, "p1");
  EXPECT_EQ(parsed.value().claims.sub, "alice");
  EXPECT_EQ(parsed.value().claims.kid, "rfc");
  EXPECT_EQ(parsed.value().claims.iat, kNow);
  EXPECT_EQ(parsed.value().claims.exp, kNow + 300);  // 1700000300.5, rounded down

  const JwkSet keys = SetOf({RfcKey().PublicJwk("rfc")});
  EXPECT_TRUE(Succeeds(VerifyToken(parsed.value(), keys, kNow)));
}

TEST_F(TokenTest, MintedTokenRoundTrips) {
  const std::string token = Mint();
  auto parsed = ParseToken(token);
  ASSERT_TRUE(Succeeds(parsed));

  const TokenClaims& claims = parsed.value().claims;
  EXPECT_EQ(claims.iss, "p1");
  EXPECT_EQ(claims.sub, "alice");
  EXPECT_EQ(claims.kid, "k1");
  EXPECT_EQ(claims.iat, kNow);
  EXPECT_EQ(claims.exp, kNow + kTtl);
  EXPECT_EQ(parsed.value().signature.size(), 64u);
  EXPECT_EQ(parsed.value().signing_input, token.substr(0, token.rfind('.')));
  EXPECT_TRUE(Succeeds(VerifyToken(parsed.value(), keys_, kNow)));
}

TEST_F(TokenTest, MintedTokenHasTheDocumentedHeaderAndClaims) {
  const std::string token = Mint();
  const std::size_t dot = token.find('.');
  const std::size_t second = token.find('.', dot + 1);
  auto header = Base64UrlDecode(token.substr(0, dot));
  auto payload = Base64UrlDecode(token.substr(dot + 1, second - dot - 1));
  ASSERT_TRUE(header && payload);
  EXPECT_EQ(Text(*header), R"({"alg":"EdDSA","typ":"JWT","kid":"k1"})");
  EXPECT_EQ(Text(*payload), R"({"iss":"p1","sub":"alice","aud":"switchboard","iat":1700000000,)"
                            R"("exp":1700000300})");

  const std::string no_kid = Mint("");
  auto bare_header = Base64UrlDecode(no_kid.substr(0, no_kid.find('.')));
  ASSERT_TRUE(bare_header);
  EXPECT_EQ(Text(*bare_header), R"({"alg":"EdDSA","typ":"JWT"})");
}

TEST_F(TokenTest, TokenWithoutKidVerifiesAgainstAnyKey) {
  const JwkSet keys = SetOf({other_.PublicJwk("a"), key_.PublicJwk("b")});
  EXPECT_TRUE(Succeeds(ParseAndVerify(Mint(""), keys, kNow)));
}

TEST_F(TokenTest, ExpiredTokenIsRefused) {
  const std::int64_t exp = kNow + kTtl;
  EXPECT_TRUE(Fails(ParseAndVerify(Mint(), keys_, exp + 61, 60), ErrorCode::kTokenExpired));
  EXPECT_TRUE(Fails(ParseAndVerify(Mint(), keys_, exp + 1, 0), ErrorCode::kTokenExpired));
  EXPECT_TRUE(Fails(ParseAndVerify(Mint(), keys_, exp + 100'000, 60), ErrorCode::kTokenExpired));
}

TEST_F(TokenTest, ExpiryWithinSkewIsAccepted) {
  const std::int64_t exp = kNow + kTtl;
  EXPECT_TRUE(Succeeds(ParseAndVerify(Mint(), keys_, exp, 0)));
  EXPECT_TRUE(Succeeds(ParseAndVerify(Mint(), keys_, exp + 30, 60)));
  EXPECT_TRUE(Succeeds(ParseAndVerify(Mint(), keys_, exp + 60, 60)));
  EXPECT_TRUE(Succeeds(ParseAndVerify(Mint(), keys_, exp + 60)));  // the default skew
}

TEST_F(TokenTest, NegativeSkewCountsAsNone) {
  const std::int64_t exp = kNow + kTtl;
  EXPECT_TRUE(Succeeds(ParseAndVerify(Mint(), keys_, exp, -1000)));
  EXPECT_TRUE(Fails(ParseAndVerify(Mint(), keys_, exp + 1, -1000), ErrorCode::kTokenExpired));
}

TEST_F(TokenTest, IssuedInTheFutureIsRefused) {
  const std::string token = key_.MintToken("p1", "alice", kNow + 120, kTtl, "k1");
  EXPECT_TRUE(Fails(ParseAndVerify(token, keys_, kNow, 60), ErrorCode::kBadToken, "iat"));
  EXPECT_TRUE(Succeeds(ParseAndVerify(token, keys_, kNow + 60, 60)));
  EXPECT_TRUE(Succeeds(ParseAndVerify(token, keys_, kNow + 120, 0)));
  EXPECT_TRUE(Fails(ParseAndVerify(token, keys_, kNow + 119, 0), ErrorCode::kBadToken, "iat"));
}

TEST_F(TokenTest, IatIsOptional) {
  const std::string token = Sign(kHeader, Claims().Drop("iat"));
  auto parsed = ParseToken(token);
  ASSERT_TRUE(Succeeds(parsed));
  EXPECT_EQ(parsed.value().claims.iat, 0);
  EXPECT_TRUE(Succeeds(VerifyToken(parsed.value(), keys_, kNow)));
}

// Verifies with a lifetime bound of `max_s` seconds and a skew of `skew_s`.
Result<Jwk> VerifyBounded(std::string_view token, const JwkSet& keys, std::int64_t now_s,
                          std::int64_t max_s, std::int64_t skew_s = 0) {
  auto parsed = ParseToken(token);
  if (!parsed) {
    return parsed.error();
  }
  return VerifyTokenKey(parsed.value(), keys, now_s, TokenPolicy{skew_s, max_s});
}

TEST_F(TokenTest, LifetimeUpToTheBoundIsAccepted) {
  EXPECT_TRUE(Succeeds(VerifyBounded(Mint(), keys_, kNow, kTtl)));
  EXPECT_TRUE(Succeeds(VerifyBounded(Mint(), keys_, kNow, 0)));  // 0: no bound
  const std::string year = key_.MintToken("p1", "alice", kNow, 365 * 86400, "k1");
  EXPECT_TRUE(Succeeds(VerifyBounded(year, keys_, kNow, 0)));
  EXPECT_TRUE(Succeeds(ParseAndVerify(year, keys_, kNow)));  // VerifyToken has no bound
}

TEST_F(TokenTest, LifetimeBeyondTheBoundIsRefused) {
  EXPECT_TRUE(
      Fails(VerifyBounded(Mint(), keys_, kNow, kTtl - 1), ErrorCode::kBadToken, "lifetime"));
  // Backdated: exp - now is within the bound, exp - iat is not.
  const std::string backdated = key_.MintToken("p1", "alice", kNow - 1000, 1100, "k1");
  EXPECT_TRUE(Fails(VerifyBounded(backdated, keys_, kNow, 600), ErrorCode::kBadToken, "lifetime"));
}

TEST_F(TokenTest, LifetimeWithoutIatCountsFromNow) {
  const std::string token =
      Sign(kHeader, Claims().Drop("iat").Set("exp", std::to_string(kNow + 1000)));
  EXPECT_TRUE(Fails(VerifyBounded(token, keys_, kNow, 600), ErrorCode::kBadToken, "lifetime"));
  EXPECT_TRUE(Succeeds(VerifyBounded(token, keys_, kNow + 400, 600)));
  // The skew is allowed on exp - now.
  EXPECT_TRUE(Succeeds(VerifyBounded(token, keys_, kNow, 600, 400)));
}

TEST_F(TokenTest, VerificationNamesTheKeyThatSigned) {
  const JwkSet keys = SetOf({other_.PublicJwk("a"), key_.PublicJwk("b")});
  auto key = VerifyBounded(Mint(""), keys, kNow, 0);
  ASSERT_TRUE(Succeeds(key));
  EXPECT_EQ(key.value().x, key_.PublicJwk("").x);
  EXPECT_TRUE(ContainsKey(keys, key.value()));
  EXPECT_TRUE(ContainsKey(SetOf({key_.PublicJwk("renamed")}), key.value()));
  EXPECT_FALSE(ContainsKey(SetOf({other_.PublicJwk("b")}), key.value()));
}

TEST_F(TokenTest, WrongKeyIsRefused) {
  const JwkSet keys = SetOf({other_.PublicJwk("k1")});
  EXPECT_TRUE(Fails(ParseAndVerify(Mint(), keys, kNow), ErrorCode::kBadToken, "signature"));
  EXPECT_TRUE(Fails(ParseAndVerify(Mint(""), keys, kNow), ErrorCode::kBadToken, "signature"));
}

TEST_F(TokenTest, EmptyKeySetVerifiesNothing) {
  EXPECT_TRUE(Fails(ParseAndVerify(Mint(""), JwkSet{}, kNow), ErrorCode::kBadToken));
}

TEST_F(TokenTest, KidSelectsTheKey) {
  const JwkSet keys = SetOf({other_.PublicJwk("old"), key_.PublicJwk("new")});
  EXPECT_TRUE(Succeeds(ParseAndVerify(Mint("new"), keys, kNow)));
  // Named the other key: only that key is tried, though the right one is in the set.
  EXPECT_TRUE(Fails(ParseAndVerify(Mint("old"), keys, kNow), ErrorCode::kBadToken, "signature"));
}

TEST_F(TokenTest, UnknownKidIsRefused) {
  EXPECT_TRUE(Fails(ParseAndVerify(Mint("k9"), keys_, kNow), ErrorCode::kBadToken, "unknown kid"));
  // A set whose keys have no kid knows no kid either.
  const JwkSet anonymous = SetOf({key_.PublicJwk("")});
  EXPECT_TRUE(
      Fails(ParseAndVerify(Mint("k1"), anonymous, kNow), ErrorCode::kBadToken, "unknown kid"));
}

TEST_F(TokenTest, TamperedPayloadIsRefused) {
  const std::string token = Mint();
  const std::string forged =
      WithPart(token, 1, Base64UrlEncode(Claims().Set("sub", R"("mallory")").Json()));
  auto parsed = ParseToken(forged);
  ASSERT_TRUE(Succeeds(parsed));
  EXPECT_EQ(parsed.value().claims.sub, "mallory");
  EXPECT_TRUE(Fails(VerifyToken(parsed.value(), keys_, kNow), ErrorCode::kBadToken, "signature"));
}

TEST_F(TokenTest, TamperedHeaderIsRefused) {
  const std::string forged =
      WithPart(Mint(), 0, Base64UrlEncode(R"({"alg":"EdDSA","typ":"JWT","kid":"k1","x":1})"));
  EXPECT_TRUE(Fails(ParseAndVerify(forged, keys_, kNow), ErrorCode::kBadToken, "signature"));
}

TEST_F(TokenTest, TamperedSignatureIsRefused) {
  const std::string token = Mint();
  auto signature = Base64UrlDecode(token.substr(token.rfind('.') + 1));
  ASSERT_TRUE(signature.has_value());
  for (std::size_t i : {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{63}}) {
    auto bad = *signature;
    bad[i] ^= 0x01;
    const std::string forged = WithPart(token, 2, Base64UrlEncode(bad.data(), bad.size()));
    EXPECT_TRUE(Fails(ParseAndVerify(forged, keys_, kNow), ErrorCode::kBadToken, "signature"))
        << "byte " << i;
  }
}

TEST_F(TokenTest, NoSingleCharacterChangeVerifies) {
  const std::string token = Mint();
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    std::string changed = token;
    const std::size_t at = rng() % changed.size();
    changed[at] = alphabet[rng() % alphabet.size()];
    if (changed == token) {
      continue;
    }
    EXPECT_FALSE(ParseAndVerify(changed, keys_, kNow).ok()) << changed;
  }
}

TEST_F(TokenTest, FailedVerificationLeavesNoOpenSslErrors) {
  ERR_clear_error();
  JwkSet keys = SetOf({other_.PublicJwk("k1"), key_.PublicJwk("")});
  keys.keys[1].x.fill(0xFF);  // not a point of the curve
  EXPECT_FALSE(ParseAndVerify(Mint(""), keys, kNow).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(TokenTest, AlgOtherThanEdDsaIsRefused) {
  for (const char* header :
       {R"({"alg":"none"})", R"({"alg":"HS256","typ":"JWT"})", R"({"alg":"RS256"})",
        R"({"alg":"ES256"})", R"({"alg":"eddsa"})", R"({"alg":"Ed25519"})", R"({"alg":["EdDSA"]})",
        R"({"alg":null})", R"({"alg":1})"}) {
    EXPECT_TRUE(Fails(ParseToken(Sign(header, Claims())), ErrorCode::kBadToken, "alg")) << header;
  }
  EXPECT_TRUE(
      Fails(ParseToken(Sign(R"({"typ":"JWT"})", Claims())), ErrorCode::kBadToken, "no alg"));
}

TEST_F(TokenTest, UnsignedTokenIsRefused) {
  // The classic forgery: alg none and an empty signature.
  const std::string header = Base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
  const std::string payload = Base64UrlEncode(Claims().Json());
  EXPECT_TRUE(Fails(ParseToken(header + "." + payload + "."), ErrorCode::kBadToken, "alg"));

  // The right alg with no signature.
  const std::string eddsa = Base64UrlEncode(kHeader);
  EXPECT_TRUE(Fails(ParseToken(eddsa + "." + payload + "."), ErrorCode::kBadToken, "signature"));
}

TEST_F(TokenTest, CritIsRefused) {
  EXPECT_TRUE(Fails(ParseToken(Sign(R"({"alg":"EdDSA","crit":["exp"],"exp":1})", Claims())),
                    ErrorCode::kBadToken, "crit"));
  EXPECT_TRUE(Fails(ParseToken(Sign(R"({"alg":"EdDSA","crit":[]})", Claims())),
                    ErrorCode::kBadToken, "crit"));
}

TEST_F(TokenTest, HeaderMembersMustHaveTheirTypes) {
  EXPECT_TRUE(
      Fails(ParseToken(Sign(R"({"alg":"EdDSA","kid":7})", Claims())), ErrorCode::kBadToken, "kid"));
  EXPECT_TRUE(Fails(ParseToken(Sign(R"({"alg":"EdDSA","typ":{}})", Claims())), ErrorCode::kBadToken,
                    "typ"));
  // Any typ string is fine; unknown header members are ignored.
  EXPECT_TRUE(Succeeds(ParseToken(Sign(R"({"alg":"EdDSA","typ":"at+jwt","x5u":"a"})", Claims()))));
  auto bare = ParseToken(Sign(kRfcHeader, Claims()));
  ASSERT_TRUE(Succeeds(bare));
  EXPECT_EQ(bare.value().claims.kid, "");
}

TEST_F(TokenTest, MissingClaimsAreRefused) {
  for (const char* claim : {"iss", "sub", "exp", "aud"}) {
    const std::string token = Sign(kHeader, Claims().Drop(claim));
    EXPECT_TRUE(Fails(ParseToken(token), ErrorCode::kBadToken, std::string(claim) + " is missing"))
        << claim;
  }
}

TEST_F(TokenTest, MistypedClaimsAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"iss", "1"},      {"iss", R"("")"},
      {"iss", "null"},   {"sub", R"(["alice"])"},
      {"sub", R"("")"},  {"exp", R"("1700000300")"},
      {"exp", "true"},   {"exp", "null"},
      {"exp", "1e300"},  {"exp", "18446744073709551615"},
      {"exp", "-1e300"}, {"iat", R"("now")"},
      {"iat", "{}"},
  };
  for (const auto& [claim, raw] : cases) {
    const std::string token = Sign(kHeader, Claims().Set(claim, raw));
    EXPECT_TRUE(Fails(ParseToken(token), ErrorCode::kBadToken, claim)) << claim << "=" << raw;
  }
}

TEST_F(TokenTest, NumericDatesMayBeFractional) {
  auto parsed = ParseToken(Sign(kHeader, Claims().Set("exp", "1700000300.9").Set("iat", "1.7e9")));
  ASSERT_TRUE(Succeeds(parsed));
  EXPECT_EQ(parsed.value().claims.exp, 1'700'000'300);
  EXPECT_EQ(parsed.value().claims.iat, 1'700'000'000);
}

TEST_F(TokenTest, WrongAudienceIsRefused) {
  for (const char* aud : {R"("other")", R"("Switchboard")", R"(["other"])", "[]", "1", "null",
                          R"({"aud":"switchboard"})", R"(["switchboard",5])"}) {
    EXPECT_TRUE(
        Fails(ParseToken(Sign(kHeader, Claims().Set("aud", aud))), ErrorCode::kBadToken, "aud"))
        << aud;
  }
}

TEST_F(TokenTest, AudienceListHoldingSwitchboardIsAccepted) {
  for (const char* aud : {R"(["switchboard"])", R"(["other","switchboard"])"}) {
    const std::string token = Sign(kHeader, Claims().Set("aud", aud));
    EXPECT_TRUE(Succeeds(ParseAndVerify(token, keys_, kNow))) << aud;
  }
}

TEST_F(TokenTest, UnknownClaimsAreIgnored) {
  const std::string token = Sign(kHeader, Claims().Set("jti", R"("abc")").Set("nested", "[{}]"));
  EXPECT_TRUE(Succeeds(ParseAndVerify(token, keys_, kNow)));
}

TEST_F(TokenTest, DuplicateClaimKeepsTheLastValue) {
  const std::string payload = R"({"iss":"p1","sub":"alice","sub":"bob","aud":"switchboard",)"
                              R"("exp":1700000300})";
  auto parsed = ParseToken(key_.SignCompact(kHeader, payload));
  ASSERT_TRUE(Succeeds(parsed));
  EXPECT_EQ(parsed.value().claims.sub, "bob");
}

TEST_F(TokenTest, PartsThatAreNotJsonObjectsAreRefused) {
  const std::string claims = Claims().Json();
  EXPECT_TRUE(Fails(ParseToken(key_.SignCompact("not json", claims)), ErrorCode::kBadToken,
                    "header is not a JSON object"));
  EXPECT_TRUE(Fails(ParseToken(key_.SignCompact(R"(["alg","EdDSA"])", claims)),
                    ErrorCode::kBadToken, "header"));
  EXPECT_TRUE(Fails(ParseToken(key_.SignCompact("", claims)), ErrorCode::kBadToken, "header"));

  for (std::string_view payload :
       {std::string_view("hello"), std::string_view("[1,2]"), std::string_view("\"s\""),
        std::string_view(""), std::string_view(R"({"iss":"p1"} trailing)"),
        std::string_view("{\"iss\":\"\xFF\"}")}) {
    EXPECT_TRUE(Fails(ParseToken(key_.SignCompact(kHeader, payload)), ErrorCode::kBadToken,
                      "payload is not a JSON object"))
        << payload;
  }
}

TEST_F(TokenTest, DeeplyNestedJsonIsRefusedQuietly) {
  const std::string deep = std::string(2000, '[') + std::string(2000, ']');
  EXPECT_TRUE(Fails(ParseToken(key_.SignCompact(kHeader, R"({"x":)" + deep + "}")),
                    ErrorCode::kBadToken, "payload"));
}

TEST_F(TokenTest, WrongNumberOfPartsIsRefused) {
  const std::string token = Mint();
  const std::string two = token.substr(0, token.rfind('.'));
  EXPECT_TRUE(Fails(ParseToken(two), ErrorCode::kBadToken, "three parts"));
  EXPECT_TRUE(Fails(ParseToken(token + ".AAAA"), ErrorCode::kBadToken, "three parts"));
  EXPECT_TRUE(Fails(ParseToken(token + "."), ErrorCode::kBadToken, "three parts"));
  EXPECT_TRUE(Fails(ParseToken("abc"), ErrorCode::kBadToken, "three parts"));
  EXPECT_TRUE(Fails(ParseToken(""), ErrorCode::kBadToken, "three parts"));
  EXPECT_TRUE(Fails(ParseToken(".."), ErrorCode::kBadToken));
  EXPECT_TRUE(Fails(ParseToken("..."), ErrorCode::kBadToken, "three parts"));
}

TEST_F(TokenTest, PaddingAndOtherAlphabetsAreRefused) {
  const std::string token = Mint();
  // A 64-byte signature is 86 characters: padded base64 would add "==".
  EXPECT_TRUE(Fails(ParseToken(token + "=="), ErrorCode::kBadToken, "signature"));

  const std::string padded_header = Base64UrlEncode(R"({"alg":"EdDSA"} )");  // 16 bytes
  ASSERT_EQ(padded_header.size() % 4, 2u);
  const std::string with_padding = WithPart(token, 0, padded_header + "==");
  EXPECT_TRUE(Fails(ParseToken(with_padding), ErrorCode::kBadToken, "header"));

  std::string standard = token;
  standard[standard.rfind('.') + 1] = '+';
  EXPECT_TRUE(Fails(ParseToken(standard), ErrorCode::kBadToken, "signature"));
  EXPECT_TRUE(Fails(ParseToken(" " + token), ErrorCode::kBadToken, "header"));
  EXPECT_TRUE(Fails(ParseToken(token + "\n"), ErrorCode::kBadToken, "signature"));
}

TEST_F(TokenTest, SignatureOfAnotherLengthIsRefused) {
  const std::string token = Mint();
  const std::vector<std::uint8_t> short_sig(63, 1);
  const std::vector<std::uint8_t> long_sig(65, 1);
  EXPECT_TRUE(Fails(ParseToken(WithPart(token, 2, Base64UrlEncode(short_sig.data(), 63))),
                    ErrorCode::kBadToken, "64 bytes"));
  EXPECT_TRUE(Fails(ParseToken(WithPart(token, 2, Base64UrlEncode(long_sig.data(), 65))),
                    ErrorCode::kBadToken, "64 bytes"));

  // A hand-built token with a short signature is refused, not read past its end.
  auto parsed = ParseToken(token);
  ASSERT_TRUE(Succeeds(parsed));
  ParsedToken truncated = parsed.value();
  truncated.signature.resize(10);
  EXPECT_TRUE(Fails(VerifyToken(truncated, keys_, kNow), ErrorCode::kBadToken));
}

TEST_F(TokenTest, TokenSizeIsBounded) {
  // Grow the account until the token is as large as allowed, then one byte more.
  std::string account(kMaxTokenBytes, 'a');
  std::string token = key_.MintToken("p1", account, kNow, kTtl, "k1");
  while (token.size() > kMaxTokenBytes) {
    account.pop_back();
    token = key_.MintToken("p1", account, kNow, kTtl, "k1");
  }
  EXPECT_GT(token.size(), kMaxTokenBytes - 4);
  EXPECT_TRUE(Succeeds(ParseAndVerify(token, keys_, kNow)));

  const std::string oversized = token + std::string(kMaxTokenBytes + 1 - token.size(), 'A');
  ASSERT_EQ(oversized.size(), kMaxTokenBytes + 1);
  EXPECT_TRUE(Fails(ParseToken(oversized), ErrorCode::kBadToken, "longer than 8192"));
  EXPECT_TRUE(Fails(ParseToken(std::string(1 << 20, '.')), ErrorCode::kBadToken, "longer"));
}

TEST_F(TokenTest, ExtremeTimesDoNotOverflow) {
  auto parsed = ParseToken(Mint());
  ASSERT_TRUE(Succeeds(parsed));
  ParsedToken token = parsed.value();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

  // The signature covers signing_input, not these fields: it still verifies, and only the time
  // checks decide.
  token.claims.exp = kMax;
  token.claims.iat = kMin;
  EXPECT_TRUE(Succeeds(VerifyToken(token, keys_, kNow, kMax)));
  // Claim times are capped far beyond any real date, so the end of time is past even this exp.
  EXPECT_TRUE(Fails(VerifyToken(token, keys_, kMax, kMax), ErrorCode::kTokenExpired));
  EXPECT_TRUE(Fails(VerifyToken(token, keys_, kMin, kMax), ErrorCode::kBadToken, "iat"));
  token.claims.exp = kMin;
  EXPECT_TRUE(Fails(VerifyToken(token, keys_, kMax, kMax), ErrorCode::kTokenExpired));
  token.claims.exp = kNow;
  token.claims.iat = kMax;
  EXPECT_TRUE(Fails(VerifyToken(token, keys_, kNow, 60), ErrorCode::kBadToken, "iat"));
  EXPECT_TRUE(Fails(VerifyToken(token, keys_, kMin, kMin), ErrorCode::kBadToken, "iat"));
}

TEST(JwkSetTest, ParsesKeysWithAndWithoutKid) {
  const std::string x = std::string(kRfcX);
  auto set = JwkSet::Parse(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")" + x +
                           R"(","kid":"a","use":"sig","alg":"EdDSA"},)"
                           R"({"crv":"Ed25519","kty":"OKP","x":")" +
                           x + R"("},{"kty":"OKP","crv":"Ed25519","x":")" + x + R"("}]})");
  ASSERT_TRUE(Succeeds(set));
  ASSERT_EQ(set.value().keys.size(), 3u);
  EXPECT_EQ(set.value().keys[0].kid, "a");
  EXPECT_EQ(set.value().keys[1].kid, "");
  EXPECT_EQ(set.value().keys[0].x, RfcKey().PublicJwk("").x);
}

TEST(JwkSetTest, ToJsonIsCanonicalAndRoundTrips) {
  const JwkSet set = SetOf({RfcKey().PublicJwk("k1"), RfcKey().PublicJwk("")});
  const std::string x = std::string(kRfcX);
  const std::string expected = R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")" + x +
                               R"(","kid":"k1"},{"kty":"OKP","crv":"Ed25519","x":")" + x +
                               R"("}]})";
  EXPECT_EQ(set.ToJson(), expected);

  auto again = JwkSet::Parse(set.ToJson());
  ASSERT_TRUE(Succeeds(again));
  EXPECT_EQ(again.value().ToJson(), expected);
}

TEST(JwkSetTest, AcceptsSixteenKeys) {
  JwkSet set;
  for (int i = 0; i < 16; ++i) {
    set.keys.push_back(SigningKey::Generate().PublicJwk("k" + std::to_string(i)));
  }
  auto parsed = JwkSet::Parse(set.ToJson());
  ASSERT_TRUE(Succeeds(parsed));
  EXPECT_EQ(parsed.value().keys.size(), 16u);
}

TEST(JwkSetTest, RefusesMalformedSets) {
  const std::string key = R"({"kty":"OKP","crv":"Ed25519","x":")" + std::string(kRfcX) + R"("})";
  std::string seventeen = R"({"keys":[)";
  for (int i = 0; i < 17; ++i) {
    seventeen += (i ? "," : "") + key;
  }
  seventeen += "]}";

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a JSON object"},   {"{", "not a JSON object"},
      {"[]", "not a JSON object"}, {"{}", "keys"},
      {R"({"keys":{}})", "keys"},  {R"({"keys":[]})", "no keys"},
      {seventeen, "more than 16"}, {R"({"keys":["x"]})", "key 0"},
  };
  for (const auto& [json, fragment] : cases) {
    EXPECT_TRUE(Fails(JwkSet::Parse(json), ErrorCode::kInvalidParams, fragment)) << json;
  }
}

TEST(JwkSetTest, RefusesMalformedKeys) {
  const std::string x = std::string(kRfcX);
  const std::vector<std::uint8_t> short_x(31, 7);
  const std::vector<std::uint8_t> long_x(33, 7);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("kty":"EC","crv":"Ed25519","x":")" + x + "\"", "kty"},
      {R"("kty":"oct","crv":"Ed25519","x":")" + x + "\"", "kty"},
      {R"("crv":"Ed25519","x":")" + x + "\"", "kty"},
      {R"("kty":"OKP","crv":"X25519","x":")" + x + "\"", "crv"},
      {R"("kty":"OKP","crv":"Ed448","x":")" + x + "\"", "crv"},
      {R"("kty":"OKP","x":")" + x + "\"", "crv"},
      {R"("kty":"OKP","crv":"Ed25519")", "x must"},
      {R"("kty":"OKP","crv":"Ed25519","x":32)", "x must"},
      {R"("kty":"OKP","crv":"Ed25519","x":")" + Base64UrlEncode(short_x.data(), 31) + "\"",
       "x must"},
      {R"("kty":"OKP","crv":"Ed25519","x":")" + Base64UrlEncode(long_x.data(), 33) + "\"",
       "x must"},
      {R"("kty":"OKP","crv":"Ed25519","x":")" + x + "=\"", "x must"},
      {R"("kty":"OKP","crv":"Ed25519","x":")" + x.substr(0, 42) + "+\"", "x must"},
      {R"("kty":"OKP","crv":"Ed25519","x":")" + x + R"(","d":")" + std::string(kRfcSeed) + "\"",
       "private"},
      {R"("kty":"OKP","crv":"Ed25519","x":")" + x + R"(","kid":5)", "kid"},
      {R"("kty":"OKP","crv":"Ed25519","x":")" + x + R"(","use":"enc")", "use"},
      {R"("kty":"OKP","crv":"Ed25519","x":")" + x + R"(","alg":"ES256")", "alg"},
  };
  for (const auto& [members, fragment] : cases) {
    const std::string json = R"({"keys":[{)" + members + "}]}";
    EXPECT_TRUE(Fails(JwkSet::Parse(json), ErrorCode::kInvalidParams, fragment)) << json;
  }
}

TEST(JwkSetTest, RefusesDuplicateKids) {
  const JwkSet set =
      SetOf({SigningKey::Generate().PublicJwk("same"), SigningKey::Generate().PublicJwk("other"),
             SigningKey::Generate().PublicJwk("same")});
  EXPECT_TRUE(
      Fails(JwkSet::Parse(set.ToJson()), ErrorCode::kInvalidParams, "key 2: duplicate kid"));
}

TEST(SigningKeyTest, GeneratedKeysDiffer) {
  const SigningKey a = SigningKey::Generate();
  const SigningKey b = SigningKey::Generate();
  EXPECT_NE(a.Seed(), b.Seed());
  EXPECT_NE(a.PublicJwk("").x, b.PublicJwk("").x);
}

TEST(SigningKeyTest, SeedRoundTrips) {
  const SigningKey key = SigningKey::Generate();
  EXPECT_EQ(key.Seed().size(), 43u);
  auto again = SigningKey::FromSeed(key.Seed());
  ASSERT_TRUE(Succeeds(again));
  EXPECT_EQ(again.value().Seed(), key.Seed());
  EXPECT_EQ(again.value().PublicJwk("k").x, key.PublicJwk("k").x);
}

TEST(SigningKeyTest, FromSeedRefusesMalformedSeeds) {
  const std::string seed = std::string(kRfcSeed);
  for (const std::string& bad : {std::string(), seed.substr(0, 42), seed + "A", seed + "=",
                                 std::string(43, '*'), Base64UrlEncode(std::string(33, 'x'))}) {
    EXPECT_TRUE(Fails(SigningKey::FromSeed(bad), ErrorCode::kInvalidParams, "seed")) << bad;
  }
}

TEST(SigningKeyTest, PublicJwkJsonIsAJwkSetMember) {
  const std::string x = std::string(kRfcX);
  EXPECT_EQ(RfcKey().PublicJwkJson("k1"),
            R"({"kty":"OKP","crv":"Ed25519","x":")" + x + R"(","kid":"k1"})");
  EXPECT_EQ(RfcKey().PublicJwkJson(""), R"({"kty":"OKP","crv":"Ed25519","x":")" + x + R"("})");

  auto set = JwkSet::Parse(R"({"keys":[)" + RfcKey().PublicJwkJson("k1") + "]}");
  ASSERT_TRUE(Succeeds(set));
  EXPECT_EQ(set.value().keys[0].kid, "k1");
  EXPECT_EQ(set.value().keys[0].x, RfcKey().PublicJwk("").x);
}

TEST(SigningKeyTest, SigningIsDeterministic) {
  const SigningKey key = RfcKey();
  EXPECT_EQ(key.MintToken("p1", "alice", kNow, kTtl, "k1"),
            key.MintToken("p1", "alice", kNow, kTtl, "k1"));
  EXPECT_NE(key.MintToken("p1", "alice", kNow, kTtl, "k1"),
            key.MintToken("p1", "bob", kNow, kTtl, "k1"));
}

}  // namespace
}  // namespace sb::auth
