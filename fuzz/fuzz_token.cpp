// Terminal tokens: parsing, then verification against a fixed platform key, as the exchange does
// for every hello. Seeds signed with that key reach the signature and time checks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/jwt.h"

namespace {

// The seed of the key the corpus tokens are signed with: the bytes 0 to 31.
constexpr std::string_view kSeed = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
// A fixed "now" inside the validity of the corpus tokens, so that runs repeat.
constexpr std::int64_t kNow = 1700000000;

const sb::auth::JwkSet& Keys() {
  static const sb::auth::JwkSet keys = [] {
    auto key = sb::auth::SigningKey::FromSeed(kSeed);
    if (!key) std::abort();
    sb::auth::JwkSet set;
    set.keys.push_back(key.value().PublicJwk("k1"));
    return set;
  }();
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto token = sb::auth::ParseToken(text);
  if (!token) return 0;
  (void)sb::auth::VerifyToken(token.value(), Keys(), kNow);
  return 0;
}
