// Parsing of the plain URLs the client side uses: `ws://host:port/path` for the exchange and
// `http://host:port` for a platform. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::client {

struct Url {
  std::string scheme;  // "ws" or "http", lower case
  std::string host;
  std::uint16_t port = 0;
  std::string path;  // begins with '/'; "/" when the URL has none
};

// Parses `scheme://host[:port][/path]` for the schemes ws and http (port 80 by default). Returns
// nullopt for anything else, including wss and https, which the blocking clients do not speak.
// TODO(client): IPv6 literals ([::1]) and TLS are not supported; the net clients have no TLS yet.
std::optional<Url> ParseUrl(std::string_view text);

}  // namespace sb::client
