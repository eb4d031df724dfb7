#include "client/url.h"

#include <charconv>

namespace sb::client {
namespace {

std::optional<std::uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<Url> ParseUrl(std::string_view text) {
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  Url url;
  url.scheme = std::string(text.substr(0, scheme_end));
  const bool plain = url.scheme == "ws" || url.scheme == "http";
  if (!plain && !UsesTls(url)) return std::nullopt;

  std::string_view rest = text.substr(scheme_end + 3);
  const auto path_begin = rest.find('/');
  std::string_view authority = rest.substr(0, path_begin);
  url.path = path_begin == std::string_view::npos ? "/" : std::string(rest.substr(path_begin));

  url.port = UsesTls(url) ? 443 : 80;
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    auto port = ParsePort(authority.substr(colon + 1));
    if (!port) return std::nullopt;
    url.port = *port;
    authority = authority.substr(0, colon);
  }
  if (authority.empty() || authority.find_first_of("[]@ ") != std::string_view::npos)
    return std::nullopt;
  url.host = std::string(authority);
  return url;
}

bool UsesTls(const Url& url) {
  return url.scheme == "wss" || url.scheme == "https";
}

}  // namespace sb::client
