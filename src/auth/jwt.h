// Terminal tokens: JWTs (RFC 7519) signed by a platform with Ed25519 (JWS alg "EdDSA"), and the
// JWK sets (RFC 8037 OKP keys) against which the exchange verifies them.
//
// Everything here is pure computation, safe to call from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sb::auth {

inline constexpr std::string_view kAudience = "switchboard";
// Largest token accepted, in bytes; longer input is refused before any parsing.
inline constexpr std::size_t kMaxTokenBytes = 8 * 1024;

// One Ed25519 public key of a platform.
struct Jwk {
  std::string kid;                   // may be empty
  std::array<std::uint8_t, 32> x{};  // the raw public key
};

struct JwkSet {
  std::vector<Jwk> keys;

  // Parses `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"<b64url>","kid":"..."}]}`. Refuses (code
  // kInvalidParams) an empty set, a key of another type or curve, a malformed `x`, duplicate kids,
  // and more than 16 keys. Private members ("d") are refused so that a platform cannot leak its
  // signing key to the exchange by mistake.
  static Result<JwkSet> Parse(std::string_view json);
  // The set as canonical JSON, for storage.
  std::string ToJson() const;
};

struct TokenClaims {
  std::string iss;  // platform id
  std::string sub;  // account
  std::string kid;  // from the header; empty when absent
  std::int64_t exp = 0;
  std::int64_t iat = 0;  // 0 when the token has none (see has_iat)
  bool has_iat = false;
};

// A token split into its parts, its header and claims decoded, its signature not yet checked.
struct ParsedToken {
  TokenClaims claims;
  std::string signing_input;            // "<header b64>.<payload b64>"
  std::vector<std::uint8_t> signature;  // 64 bytes for EdDSA
};

// Splits and decodes a compact JWS. Refuses with kBadToken: not three base64url parts, header or
// payload not JSON objects, `alg` other than "EdDSA", `crit` present, missing or mistyped claims
// (`iss`, `sub` strings; `exp` number; `aud` "switchboard" or an array holding it).
Result<ParsedToken> ParseToken(std::string_view token);

// What a verification checks besides the signature.
struct TokenPolicy {
  std::int64_t skew_s = 60;  // tolerance on `exp` and `iat`; negative counts as 0
  // The longest lifetime accepted, in seconds; 0 (or less): no bound. A token is refused with
  // kBadToken when `exp - iat` exceeds it, or when `exp - now` exceeds it plus the skew (which
  // also bounds tokens without `iat`, and tokens that claim an `iat` long past).
  std::int64_t max_lifetime_s = 0;
};

// Checks the signature against `keys` (the key named by `kid`, else every key) and the times:
// kBadToken when no key verifies, kTokenExpired when `now_s` is past `exp + skew_s`, kBadToken
// when `iat` lies more than `skew_s` in the future.
Status VerifyToken(const ParsedToken& token, const JwkSet& keys, std::int64_t now_s,
                   std::int64_t skew_s = 60);

// As VerifyToken, also bounding the lifetime (`policy.max_lifetime_s`); returns the key of `keys`
// whose signature verified, so that a caller can later tell whether that key is still trusted.
Result<Jwk> VerifyTokenKey(const ParsedToken& token, const JwkSet& keys, std::int64_t now_s,
                           const TokenPolicy& policy);

// Whether `keys` holds `key` (the same public key; the kid is not compared).
bool ContainsKey(const JwkSet& keys, const Jwk& key);

// An Ed25519 private key, for whoever signs tokens: platforms, the chat CLI's tests, benchmarks.
class SigningKey {
 public:
  static SigningKey Generate();
  // From the 32-byte seed, base64url-encoded (what `Seed()` returns).
  static Result<SigningKey> FromSeed(std::string_view seed_b64url);

  std::string Seed() const;  // base64url of the 32-byte seed: keep secret
  Jwk PublicJwk(std::string kid) const;
  // The public JWK as a JSON object, e.g. for a registration body.
  std::string PublicJwkJson(const std::string& kid) const;

  // Mints a terminal token for `account` of `platform_id`, valid for `ttl_s` seconds from `now_s`.
  std::string MintToken(const std::string& platform_id, const std::string& account,
                        std::int64_t now_s, std::int64_t ttl_s, const std::string& kid) const;
  // Signs arbitrary header and payload JSON (for tests of malformed claims).
  std::string SignCompact(std::string_view header_json, std::string_view payload_json) const;

 private:
  std::array<std::uint8_t, 32> seed_{};
};

}  // namespace sb::auth
