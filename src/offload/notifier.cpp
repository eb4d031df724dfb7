#include "offload/notifier.h"

#include <charconv>

namespace sb::offload {
namespace {

constexpr std::size_t kMaxUrlBytes = 2048;

Error BadUrl(std::string_view url, std::string_view why) {
  return MakeError(ErrorCode::kInvalidParams,
                   "notification_url '" + std::string(url) + "' " + std::string(why));
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() > kMaxUrlBytes) return BadUrl(url.substr(0, 64), "is longer than 2048 bytes");
  if (url.substr(0, kScheme.size()) != kScheme)
    return BadUrl(url, "must start with http:// (https is not supported yet)");

  std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos)
    return BadUrl(url, "must not carry credentials");

  const auto colon = authority.rfind(':');
  const bool bracketed = !authority.empty() && authority.front() == '[';
  if (colon != std::string_view::npos && (!bracketed || authority[colon - 1] == ']')) {
    std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return BadUrl(url, "has an invalid port");
    out.port = static_cast<std::uint16_t>(value);
    authority = authority.substr(0, colon);
  }
  if (bracketed && authority.size() > 2 && authority.back() == ']')
    authority = authority.substr(1, authority.size() - 2);
  if (authority.empty()) return BadUrl(url, "has no host");
  out.host = std::string(authority);
  return out;
}

}  // namespace sb::offload
