// Parsing of the URLs the client side uses: `ws://host:port/path` for the exchange and
// `http://host:port` for a platform, and their TLS forms wss and https. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::client {

struct Url {
  std::string scheme;  // "ws", "wss", "http" or "https", lower case
  std::string host;
  std::uint16_t port = 0;
  std::string path;  // begins with '/'; "/" when the URL has none
};

// Parses `scheme://host[:port][/path]` for the schemes ws and http (port 80 by default) and wss
// and https (port 443 by default). Returns nullopt for anything else.
// TODO(client): IPv6 literals ([::1]) are not supported.
std::optional<Url> ParseUrl(std::string_view text);

// Whether the URL's scheme asks for TLS (wss or https).
bool UsesTls(const Url& url);

}  // namespace sb::client
