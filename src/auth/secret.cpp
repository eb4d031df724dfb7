#include "auth/secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace sb::auth {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::int8_t kNotInAlphabet = -1;

// Maps each byte to its 6-bit value, or kNotInAlphabet.
constexpr std::array<std::int8_t, 256> MakeDecodeTable() {
  std::array<std::int8_t, 256> table{};
  table.fill(kNotInAlphabet);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr std::array<std::int8_t, 256> kDecodeTable = MakeDecodeTable();

}  // namespace

std::string RandomCredential(std::string_view prefix, std::size_t bytes) {
  std::vector<std::uint8_t> random(bytes);
  // A credential built from a failed generator would be guessable; no caller can recover from
  // that, so stop rather than hand one out.
  if (bytes > 0 && RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    std::fputs("sb::auth: the OpenSSL random generator failed\n", stderr);
    std::abort();
  }

  std::string credential(prefix);
  credential += Base64UrlEncode(random.data(), random.size());
  OPENSSL_cleanse(random.data(), random.size());
  return credential;
}

std::string Sha256Hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    // Only an allocation failure inside OpenSSL gets here; no stand-in value is safe to store or
    // to compare against a stored hash.
    std::fputs("sb::auth: SHA-256 failed\n", stderr);
    std::abort();
  }

  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(std::size_t{2} * size);
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0F]);
  }
  return hex;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length may show; the content must not. When the lengths differ, `a` is still compared
  // (against itself) so that the time taken depends on its length alone.
  const bool same_size = a.size() == b.size();
  const std::string_view other = same_size ? b : a;
  const bool same_content = CRYPTO_memcmp(a.data(), other.data(), a.size()) == 0;
  return same_size && same_content;
}

std::string Base64UrlEncode(const std::uint8_t* data, std::size_t size) {
  std::string out;
  out.reserve((size * 4 + 2) / 3);

  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const std::uint32_t n = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out.push_back(kAlphabet[(n >> 18) & 0x3F]);
    out.push_back(kAlphabet[(n >> 12) & 0x3F]);
    out.push_back(kAlphabet[(n >> 6) & 0x3F]);
    out.push_back(kAlphabet[n & 0x3F]);
  }

  // One or two bytes left: two or three characters, no padding.
  const std::size_t rest = size - i;
  if (rest > 0) {
    const std::uint32_t n = (data[i] << 16) | (rest == 2 ? data[i + 1] << 8 : 0);
    out.push_back(kAlphabet[(n >> 18) & 0x3F]);
    out.push_back(kAlphabet[(n >> 12) & 0x3F]);
    if (rest == 2) {
      out.push_back(kAlphabet[(n >> 6) & 0x3F]);
    }
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> Base64UrlDecode(std::string_view text) {
  // A final group of one character carries only 6 bits: no byte string encodes to it.
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }

  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    const std::int8_t value = kDecodeTable[static_cast<unsigned char>(c)];
    if (value == kNotInAlphabet) {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<std::uint8_t>(bits >> bit_count));
      bits &= (1u << bit_count) - 1;
    }
  }

  // The bits left over must be zero, so that each byte string has exactly one encoding and a
  // signature or key cannot be altered without changing its bytes.
  if (bits != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace sb::auth
