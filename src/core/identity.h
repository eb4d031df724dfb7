// Identities of the exchange: platform ids, accounts and addresses.
//
// A platform id is assigned by the exchange: 3 to 32 lowercase ASCII letters and digits, never
// reused. An account is chosen by its platform: 1 to 128 bytes of valid UTF-8 with no whitespace
// or control characters, unique within its platform. An address is `account@platform-id`.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace sb {

inline constexpr std::size_t kPlatformIdMinLength = 3;
inline constexpr std::size_t kPlatformIdMaxLength = 32;
inline constexpr std::size_t kAccountMaxBytes = 128;

bool IsValidPlatformId(std::string_view id);
bool IsValidAccount(std::string_view account);

// Derives a platform id candidate from a display name: lowercase letters and digits only, cut to
// the maximum length; empty when the name has fewer than the minimum usable characters.
std::string PlatformIdStem(std::string_view name);

// One user of one platform.
struct Address {
  std::string platform;
  std::string account;

  std::string ToString() const { return account + "@" + platform; }
  auto operator<=>(const Address&) const = default;
};

struct AddressHash {
  std::size_t operator()(const Address& a) const noexcept {
    std::size_t h = std::hash<std::string>{}(a.platform);
    return h ^ (std::hash<std::string>{}(a.account) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

}  // namespace sb
