#include "platform/password.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "auth/secret.h"

namespace sb::platform {
namespace {

constexpr std::string_view kScheme = "scrypt";
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kKeyBytes = 32;
// Bounds on what a stored hash may ask for, so that a tampered row cannot stall the server.
constexpr std::uint32_t kMaxLog2N = 20;
constexpr std::uint32_t kMaxR = 32;
constexpr std::uint32_t kMaxP = 16;

struct KdfDeleter {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};

// scrypt(password, salt) into `out`; false when OpenSSL refuses.
bool DeriveKey(std::string_view password, const std::vector<std::uint8_t>& salt,
               const ScryptCost& cost, std::vector<std::uint8_t>& out) {
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr));
  if (!kdf) return false;
  std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return false;

  std::uint64_t n = std::uint64_t{1} << cost.log2_n;
  std::uint32_t r = cost.r;
  std::uint32_t p = cost.p;
  // OpenSSL wants non-const pointers; it only reads through them.
  char empty = 0;
  void* password_data = password.empty() ? &empty : const_cast<char*>(password.data());
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, password_data, password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_end()};

  out.assign(kKeyBytes, 0);
  return EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) == 1;
}

std::optional<std::uint32_t> ParseNumber(std::string_view text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The six `$`-separated fields of an encoded hash, or fewer when malformed.
std::vector<std::string_view> SplitFields(std::string_view encoded) {
  std::vector<std::string_view> fields;
  while (fields.size() < 6) {
    const auto dollar = encoded.find('$');
    fields.push_back(encoded.substr(0, dollar));
    if (dollar == std::string_view::npos) break;
    encoded.remove_prefix(dollar + 1);
  }
  return fields;
}

}  // namespace

std::string HashPassword(std::string_view password, const ScryptCost& cost) {
  std::vector<std::uint8_t> salt(kSaltBytes);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    throw std::runtime_error("password hashing: no random bytes");
  }
  std::vector<std::uint8_t> key;
  if (!DeriveKey(password, salt, cost, key)) {
    throw std::runtime_error("password hashing: scrypt failed");
  }
  return std::string(kScheme) + "$" + std::to_string(cost.log2_n) + "$" + std::to_string(cost.r) +
         "$" + std::to_string(cost.p) + "$" + auth::Base64UrlEncode(salt.data(), salt.size()) +
         "$" + auth::Base64UrlEncode(key.data(), key.size());
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  const std::vector<std::string_view> fields = SplitFields(encoded);
  if (fields.size() != 6 || fields[0] != kScheme) return false;

  auto log2_n = ParseNumber(fields[1]);
  auto r = ParseNumber(fields[2]);
  auto p = ParseNumber(fields[3]);
  auto salt = auth::Base64UrlDecode(fields[4]);
  auto expected = auth::Base64UrlDecode(fields[5]);
  if (!log2_n || !r || !p || !salt || !expected) return false;
  if (*log2_n == 0 || *log2_n > kMaxLog2N || *r == 0 || *r > kMaxR || *p == 0 || *p > kMaxP) {
    return false;
  }
  if (expected->size() != kKeyBytes) return false;

  std::vector<std::uint8_t> actual;
  if (!DeriveKey(password, *salt, ScryptCost{*log2_n, *r, *p}, actual)) return false;
  return CRYPTO_memcmp(actual.data(), expected->data(), kKeyBytes) == 0;
}

}  // namespace sb::platform
