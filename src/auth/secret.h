// Secrets of the exchange: random credentials, their hashes, constant-time comparison, base64url.
// Pure computation, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::auth {

// A fresh credential: `prefix` followed by `bytes` random bytes (OpenSSL's CSPRNG) in base64url.
std::string RandomCredential(std::string_view prefix, std::size_t bytes = 32);

// Lowercase hex SHA-256 of `text`: how platform keys and enrollment tokens are stored.
std::string Sha256Hex(std::string_view text);

// Compares without an early exit, so timing tells nothing about where two secrets differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

std::string Base64UrlEncode(const std::uint8_t* data, std::size_t size);
inline std::string Base64UrlEncode(std::string_view s) {
  return Base64UrlEncode(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
// Decodes unpadded base64url; nullopt on any character outside the alphabet, padding, or a length
// that no encoding produces.
std::optional<std::vector<std::uint8_t>> Base64UrlDecode(std::string_view text);

}  // namespace sb::auth
