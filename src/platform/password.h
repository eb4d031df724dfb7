// Password hashing for the platform's users: scrypt (OpenSSL 3's EVP_KDF "SCRYPT") with a fresh
// random salt per password, stored as one self-describing string so that the cost can be raised
// later without breaking stored hashes:
//
//   scrypt$<log2 N>$<r>$<p>$<salt, base64url>$<derived key, base64url>
//
// Pure computation, safe from any thread. Hashing is deliberately slow (tens of milliseconds and
// 16 MiB of memory with the defaults): never call it on an event loop thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sb::platform {

struct ScryptCost {
  std::uint32_t log2_n = 14;  // N = 16384
  std::uint32_t r = 8;
  std::uint32_t p = 1;
};

// The encoded hash of `password`. Throws std::runtime_error when OpenSSL fails (out of memory).
std::string HashPassword(std::string_view password, const ScryptCost& cost = {});

// Whether `password` matches `encoded`, compared in constant time. False for an encoding that
// does not parse or asks for an unreasonable cost.
bool VerifyPassword(std::string_view password, std::string_view encoded);

}  // namespace sb::platform
