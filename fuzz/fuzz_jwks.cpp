// JWK sets, as a platform registers or rotates them; a parsed set must survive its own round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/jwt.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto keys = sb::auth::JwkSet::Parse(text);
  if (!keys) return 0;

  // What the exchange stores must read back as the same set.
  auto again = sb::auth::JwkSet::Parse(keys.value().ToJson());
  if (!again || again.value().ToJson() != keys.value().ToJson()) std::abort();
  return 0;
}
