#include "auth/jwt.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include "auth/secret.h"

namespace sb::auth {
namespace {

constexpr std::string_view kAlgorithm = "EdDSA";
constexpr std::string_view kKeyType = "OKP";
constexpr std::string_view kCurve = "Ed25519";
constexpr std::size_t kMaxKeys = 16;
constexpr std::size_t kSignatureBytes = 64;
// Claim times are kept within +-2^53 seconds (every such value is an exact double, and it is far
// beyond any real date), so that adding a skew to them can never overflow.
constexpr std::int64_t kMaxTime = std::int64_t{1} << 53;

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using Seed = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, kSignatureBytes>;

// OpenSSL fails with a valid key only when it cannot allocate, or when its random generator is
// broken; a signer has no sensible answer to either, and a weak key must never be handed out.
[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "sb::auth: %s\n", what);
  std::abort();
}

Error BadToken(std::string message) {
  return MakeError(ErrorCode::kBadToken, std::move(message));
}

Error InvalidParams(std::string message) {
  return MakeError(ErrorCode::kInvalidParams, std::move(message));
}

// Boost.JSON keeps the last of duplicate members, which RFC 7515 allows in place of refusing them.
std::optional<boost::json::object> ParseObject(std::string_view text) {
  boost::json::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    return std::nullopt;
  }
  return std::move(value.as_object());
}

// True when `name` is absent, or present with a string value.
bool AbsentOrString(const boost::json::object& object, std::string_view name) {
  const boost::json::value* value = object.if_contains(name);
  return value == nullptr || value->is_string();
}

// True when `name` is present with exactly the string value `expected`.
bool HasString(const boost::json::object& object, std::string_view name,
               std::string_view expected) {
  const boost::json::value* value = object.if_contains(name);
  return value != nullptr && value->is_string() && value->get_string() == expected;
}

bool AbsentOrEquals(const boost::json::object& object, std::string_view name,
                    std::string_view expected) {
  return !object.contains(name) || HasString(object, name, expected);
}

std::string StringOrEmpty(const boost::json::object& object, std::string_view name) {
  const boost::json::value* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

// A NumericDate (RFC 7519): integer or fractional seconds, rounded down to whole seconds.
// Boost.JSON stores an integer as uint64 only above INT64_MAX, which is out of range anyway.
std::optional<std::int64_t> ToSeconds(const boost::json::value& value) {
  if (value.is_int64()) {
    const std::int64_t n = value.get_int64();
    if (n < -kMaxTime || n > kMaxTime) {
      return std::nullopt;
    }
    return n;
  }
  if (value.is_double()) {
    // Written so that NaN and infinities fail the test too.
    const double d = value.get_double();
    if (!(std::fabs(d) <= static_cast<double>(kMaxTime))) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(std::floor(d));
  }
  return std::nullopt;
}

PkeyPtr PrivateKey(const Seed& seed) {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key) {
    Fatal("cannot load an Ed25519 private key");
  }
  return key;
}

Signature Sign(const Seed& seed, std::string_view input) {
  const PkeyPtr key = PrivateKey(seed);
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  Signature signature{};
  std::size_t size = signature.size();
  // Ed25519 hashes internally: no digest is named, and the message is signed in one shot.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), signature.data(), &size,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1 ||
      size != signature.size()) {
    Fatal("Ed25519 signing failed");
  }
  return signature;
}

bool Verify(const Jwk& key, std::string_view input, const std::vector<std::uint8_t>& signature) {
  const PkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.x.data(), key.x.size()));
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok =
      pkey && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  // Depending on the OpenSSL version and the step that failed, a failure may leave entries in this
  // thread's error queue; left there, they would be misread by the next TLS call on the thread.
  if (!ok) {
    ERR_clear_error();
  }
  return ok;
}

boost::json::object JwkObject(const Jwk& key) {
  boost::json::object object;
  object["kty"] = kKeyType;
  object["crv"] = kCurve;
  object["x"] = Base64UrlEncode(key.x.data(), key.x.size());
  if (!key.kid.empty()) {
    object["kid"] = key.kid;
  }
  return object;
}

Result<Jwk> ParseJwk(const boost::json::value& value) {
  if (!value.is_object()) {
    return InvalidParams("is not a JSON object");
  }
  const boost::json::object& object = value.get_object();

  if (object.contains("d")) {
    return InvalidParams("holds a private key (\"d\"); register only the public key");
  }
  if (!HasString(object, "kty", kKeyType)) {
    return InvalidParams("kty must be \"OKP\"");
  }
  if (!HasString(object, "crv", kCurve)) {
    return InvalidParams("crv must be \"Ed25519\"");
  }
  // Optional members that, when present, must agree with a signature key for EdDSA.
  if (!AbsentOrEquals(object, "use", "sig")) {
    return InvalidParams("use must be \"sig\"");
  }
  if (!AbsentOrEquals(object, "alg", kAlgorithm)) {
    return InvalidParams("alg must be \"EdDSA\"");
  }
  if (!AbsentOrString(object, "kid")) {
    return InvalidParams("kid must be a string");
  }

  Jwk key;
  const boost::json::value* x = object.if_contains("x");
  const auto bytes =
      x != nullptr && x->is_string() ? Base64UrlDecode(x->get_string()) : std::nullopt;
  if (!bytes || bytes->size() != key.x.size()) {
    return InvalidParams("x must be the 32-byte public key in unpadded base64url");
  }
  std::copy(bytes->begin(), bytes->end(), key.x.begin());
  key.kid = StringOrEmpty(object, "kid");
  return key;
}

bool HasKid(const JwkSet& set, const std::string& kid) {
  return std::any_of(set.keys.begin(), set.keys.end(),
                     [&](const Jwk& key) { return key.kid == kid; });
}

// Splits "a.b.c" into its three parts; nullopt for any other number of dots.
std::optional<std::array<std::string_view, 3>> SplitCompact(std::string_view token) {
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos) {
    return std::nullopt;
  }
  if (token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return std::array<std::string_view, 3>{token.substr(0, first),
                                         token.substr(first + 1, second - first - 1),
                                         token.substr(second + 1)};
}

Result<boost::json::object> DecodeJsonPart(std::string_view part, const std::string& name) {
  const auto bytes = Base64UrlDecode(part);
  if (!bytes) {
    return BadToken(name + " is not unpadded base64url");
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  auto object = ParseObject(text);
  if (!object) {
    return BadToken(name + " is not a JSON object");
  }
  return std::move(*object);
}

// Checks the JOSE header; returns its kid, empty when absent.
Result<std::string> ReadHeader(const boost::json::object& header) {
  if (!header.contains("alg")) {
    return BadToken("header has no alg");
  }
  if (!HasString(header, "alg", kAlgorithm)) {
    return BadToken("alg must be \"EdDSA\"");
  }
  // An extension the sender marks critical would change how the token must be read; none is
  // understood here, so RFC 7515 requires refusing the token.
  if (header.contains("crit")) {
    return BadToken("header has crit, which is not supported");
  }
  if (!AbsentOrString(header, "typ")) {
    return BadToken("typ must be a string");
  }
  if (!AbsentOrString(header, "kid")) {
    return BadToken("kid must be a string");
  }
  return StringOrEmpty(header, "kid");
}

bool HasAudience(const boost::json::value& aud) {
  if (aud.is_string()) {
    return aud.get_string() == kAudience;
  }
  if (!aud.is_array()) {
    return false;
  }
  const boost::json::array& list = aud.get_array();
  const bool all_strings =
      std::all_of(list.begin(), list.end(), [](const auto& v) { return v.is_string(); });
  return all_strings && std::any_of(list.begin(), list.end(),
                                    [](const auto& v) { return v.get_string() == kAudience; });
}

Result<std::string> ReadStringClaim(const boost::json::object& payload, const std::string& name) {
  const boost::json::value* value = payload.if_contains(name);
  if (value == nullptr) {
    return BadToken("claim " + name + " is missing");
  }
  if (!value->is_string() || value->get_string().empty()) {
    return BadToken("claim " + name + " must be a non-empty string");
  }
  return std::string(value->get_string());
}

Result<std::int64_t> ReadTimeClaim(const boost::json::value& value, const std::string& name) {
  const auto seconds = ToSeconds(value);
  if (!seconds) {
    return BadToken("claim " + name + " must be a number of seconds in range");
  }
  return *seconds;
}

Result<TokenClaims> ReadClaims(const boost::json::object& payload) {
  TokenClaims claims;
  auto iss = ReadStringClaim(payload, "iss");
  if (!iss) {
    return iss.error();
  }
  claims.iss = std::move(iss).value();
  auto sub = ReadStringClaim(payload, "sub");
  if (!sub) {
    return sub.error();
  }
  claims.sub = std::move(sub).value();

  const boost::json::value* aud = payload.if_contains("aud");
  if (aud == nullptr) {
    return BadToken("claim aud is missing");
  }
  if (!HasAudience(*aud)) {
    return BadToken("claim aud must be \"switchboard\" or hold it");
  }

  const boost::json::value* exp = payload.if_contains("exp");
  if (exp == nullptr) {
    return BadToken("claim exp is missing");
  }
  const auto exp_s = ReadTimeClaim(*exp, "exp");
  if (!exp_s) {
    return exp_s.error();
  }
  claims.exp = exp_s.value();

  if (const boost::json::value* iat = payload.if_contains("iat")) {
    const auto iat_s = ReadTimeClaim(*iat, "iat");
    if (!iat_s) {
      return iat_s.error();
    }
    claims.iat = iat_s.value();
    claims.has_iat = true;
  }
  return claims;
}

// A token naming a kid is checked against that key only: its platform said which key signed it,
// and trying the others would hide a wrong kid. A token without one may use any key of the set.
// The key of `keys` whose signature verifies the token.
Result<Jwk> VerifySignature(const ParsedToken& token, const JwkSet& keys) {
  const std::string& kid = token.claims.kid;
  bool kid_known = false;
  for (const Jwk& key : keys.keys) {
    if (!kid.empty() && key.kid != kid) {
      continue;
    }
    kid_known = true;
    if (Verify(key, token.signing_input, token.signature)) {
      return key;
    }
  }
  if (!kid.empty() && !kid_known) {
    return BadToken("unknown kid");
  }
  return BadToken("signature does not verify");
}

// The times of a token whose signature verified: expiry, issue time, and the lifetime bound.
Status CheckTimes(const TokenClaims& claims, std::int64_t now_s, const TokenPolicy& policy) {
  // Clamped so that the sums below cannot overflow whatever the caller passes; a negative skew
  // means none.
  const std::int64_t skew = std::clamp<std::int64_t>(policy.skew_s, 0, kMaxTime);
  const std::int64_t exp = std::clamp<std::int64_t>(claims.exp, -kMaxTime, kMaxTime);
  const std::int64_t iat = std::clamp<std::int64_t>(claims.iat, -kMaxTime, kMaxTime);
  if (exp + skew < now_s) {
    return MakeError(ErrorCode::kTokenExpired, "token has expired");
  }
  if (iat - skew > now_s) {
    return BadToken("token is issued in the future (iat)");
  }
  if (policy.max_lifetime_s > 0) {
    const std::int64_t max = std::min(policy.max_lifetime_s, kMaxTime);
    const std::int64_t now = std::clamp<std::int64_t>(now_s, -kMaxTime, kMaxTime);
    if ((claims.has_iat && exp - iat > max) || exp - now > max + skew) {
      return BadToken("token lifetime is longer than the exchange accepts (" + std::to_string(max) +
                      " s)");
    }
  }
  return Ok{};
}

}  // namespace

Result<ParsedToken> ParseToken(std::string_view token) {
  if (token.size() > kMaxTokenBytes) {
    return BadToken("token is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  }
  const auto parts = SplitCompact(token);
  if (!parts) {
    return BadToken("token must have three parts separated by dots");
  }
  const auto [header_b64, payload_b64, signature_b64] = *parts;

  const auto header = DecodeJsonPart(header_b64, "header");
  if (!header) {
    return header.error();
  }
  auto kid = ReadHeader(header.value());
  if (!kid) {
    return kid.error();
  }

  const auto payload = DecodeJsonPart(payload_b64, "payload");
  if (!payload) {
    return payload.error();
  }
  auto claims = ReadClaims(payload.value());
  if (!claims) {
    return claims.error();
  }

  auto signature = Base64UrlDecode(signature_b64);
  if (!signature || signature->size() != kSignatureBytes) {
    return BadToken("signature must be 64 bytes of unpadded base64url");
  }

  ParsedToken parsed{std::move(claims).value(),
                     std::string(token.substr(0, header_b64.size() + 1 + payload_b64.size())),
                     std::move(*signature)};
  parsed.claims.kid = std::move(kid).value();
  return parsed;
}

Status VerifyToken(const ParsedToken& token, const JwkSet& keys, std::int64_t now_s,
                   std::int64_t skew_s) {
  auto key = VerifyTokenKey(token, keys, now_s, TokenPolicy{skew_s, 0});
  if (!key) {
    return key.error();
  }
  return Ok{};
}

Result<Jwk> VerifyTokenKey(const ParsedToken& token, const JwkSet& keys, std::int64_t now_s,
                           const TokenPolicy& policy) {
  // The signature first: nothing about an unsigned token, its times included, is worth reporting.
  auto key = VerifySignature(token, keys);
  if (!key) {
    return key.error();
  }
  if (Status times = CheckTimes(token.claims, now_s, policy); !times) {
    return times.error();
  }
  return key;
}

bool ContainsKey(const JwkSet& keys, const Jwk& key) {
  return std::any_of(keys.keys.begin(), keys.keys.end(),
                     [&key](const Jwk& candidate) { return candidate.x == key.x; });
}

Result<JwkSet> JwkSet::Parse(std::string_view json) {
  const auto root = ParseObject(json);
  if (!root) {
    return InvalidParams("JWK set is not a JSON object");
  }
  const boost::json::value* keys = root->if_contains("keys");
  if (keys == nullptr || !keys->is_array()) {
    return InvalidParams("JWK set has no \"keys\" array");
  }
  const boost::json::array& list = keys->get_array();
  if (list.empty()) {
    return InvalidParams("JWK set has no keys");
  }
  if (list.size() > kMaxKeys) {
    return InvalidParams("JWK set has more than " + std::to_string(kMaxKeys) + " keys");
  }

  JwkSet set;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto key = ParseJwk(list[i]);
    if (!key) {
      return InvalidParams("key " + std::to_string(i) + ": " + key.error().message);
    }
    if (!key.value().kid.empty() && HasKid(set, key.value().kid)) {
      return InvalidParams("key " + std::to_string(i) + ": duplicate kid");
    }
    set.keys.push_back(std::move(key).value());
  }
  return set;
}

std::string JwkSet::ToJson() const {
  boost::json::array list;
  for (const Jwk& key : keys) {
    list.push_back(JwkObject(key));
  }
  boost::json::object root;
  root["keys"] = std::move(list);
  return boost::json::serialize(root);
}

SigningKey SigningKey::Generate() {
  SigningKey key;
  if (RAND_bytes(key.seed_.data(), static_cast<int>(key.seed_.size())) != 1) {
    Fatal("the OpenSSL random generator failed");
  }
  return key;
}

Result<SigningKey> SigningKey::FromSeed(std::string_view seed_b64url) {
  auto bytes = Base64UrlDecode(seed_b64url);
  SigningKey key;
  const bool ok = bytes && bytes->size() == key.seed_.size();
  if (ok) {
    std::copy(bytes->begin(), bytes->end(), key.seed_.begin());
  }
  if (bytes) {
    OPENSSL_cleanse(bytes->data(), bytes->size());
  }
  if (!ok) {
    return InvalidParams("seed must be 32 bytes in unpadded base64url");
  }
  return key;
}

std::string SigningKey::Seed() const {
  return Base64UrlEncode(seed_.data(), seed_.size());
}

Jwk SigningKey::PublicJwk(std::string kid) const {
  const PkeyPtr key = PrivateKey(seed_);
  Jwk jwk;
  jwk.kid = std::move(kid);
  std::size_t size = jwk.x.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), jwk.x.data(), &size) != 1 || size != jwk.x.size()) {
    Fatal("cannot derive an Ed25519 public key");
  }
  return jwk;
}

std::string SigningKey::PublicJwkJson(const std::string& kid) const {
  return boost::json::serialize(JwkObject(PublicJwk(kid)));
}

std::string SigningKey::MintToken(const std::string& platform_id, const std::string& account,
                                  std::int64_t now_s, std::int64_t ttl_s,
                                  const std::string& kid) const {
  boost::json::object header;
  header["alg"] = kAlgorithm;
  header["typ"] = "JWT";
  if (!kid.empty()) {
    header["kid"] = kid;
  }

  boost::json::object payload;
  payload["iss"] = platform_id;
  payload["sub"] = account;
  payload["aud"] = kAudience;
  payload["iat"] = now_s;
  payload["exp"] = now_s + ttl_s;
  return SignCompact(boost::json::serialize(header), boost::json::serialize(payload));
}

std::string SigningKey::SignCompact(std::string_view header_json,
                                    std::string_view payload_json) const {
  std::string token = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  const Signature signature = Sign(seed_, token);
  token += ".";
  token += Base64UrlEncode(signature.data(), signature.size());
  return token;
}

}  // namespace sb::auth
