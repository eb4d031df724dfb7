// Parsing of the URLs the client side uses: `ws://host:port/path` for the exchange and
// `http://host:port` for a platform, and their TLS forms wss and https. Pure and thread-safe.
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
// TODO(client): IPv6 literals ([::1]) are not supported.
// TODO(client): the terminal and platform clients call ParseUrl, so they refuse wss and https
// although net::WsClient and net::HttpClient speak TLS (net::ClientTls); switching them to
// ParseUrlWithTls and passing UsesTls() on is what remains.
std::optional<Url> ParseUrl(std::string_view text);

// As ParseUrl, and also the schemes wss and https (port 443 by default).
std::optional<Url> ParseUrlWithTls(std::string_view text);

// Whether the URL's scheme asks for TLS (wss or https).
bool UsesTls(const Url& url);

}  // namespace sb::client
