#include "core/identity.h"

#include <cstdint>

namespace sb {
namespace {

// Length of the UTF-8 sequence that starts with `lead`, or 0 when `lead` cannot start one.
std::size_t Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Decodes one code point at `s[i]`; returns false on malformed input.
bool DecodeUtf8(std::string_view s, std::size_t& i, std::uint32_t& cp) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const std::size_t n = Utf8SequenceLength(lead);
  if (n == 0 || i + n > s.size()) return false;
  cp = n == 1 ? lead : lead & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (c & 0x3F);
  }
  // Reject overlong forms, surrogates and values past Unicode.
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
  i += n;
  return true;
}

bool IsWhitespaceOrControl(std::uint32_t cp) {
  if (cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0)) return true;
  switch (cp) {
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

}  // namespace

bool IsValidPlatformId(std::string_view id) {
  if (id.size() < kPlatformIdMinLength || id.size() > kPlatformIdMaxLength) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool IsValidAccount(std::string_view account) {
  if (account.empty() || account.size() > kAccountMaxBytes) return false;
  std::size_t i = 0;
  while (i < account.size()) {
    std::uint32_t cp = 0;
    if (!DecodeUtf8(account, i, cp) || IsWhitespaceOrControl(cp)) return false;
  }
  return true;
}

std::string PlatformIdStem(std::string_view name) {
  std::string stem;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) stem.push_back(c);
    if (stem.size() == kPlatformIdMaxLength - 4) break;  // room for a numeric suffix
  }
  return stem.size() >= kPlatformIdMinLength ? stem : std::string();
}

}  // namespace sb
