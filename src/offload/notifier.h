// How offload tells a platform that one of its terminals' paths changed: a webhook POST to the URL
// the platform gave. The sending itself (HTTP, retries) is not offload's: it is injected through
// NotificationSender, which the server implements over the blocking HTTP client on a worker thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sb::offload {

// Delivers notification bodies to URLs.
//
// Thread-safety: Send is called on the loop thread and must not block it (queue and return).
class NotificationSender {
 public:
  virtual ~NotificationSender() = default;
  // Queues one POST of `body` (JSON) to `url`. Delivery is best effort, with bounded retries.
  virtual void Send(std::string url, std::string body) = 0;
};

// A plain-HTTP URL, split for a client that connects to host:port and asks for `target`.
struct HttpUrl {
  std::string host;
  std::uint16_t port = 80;
  std::string target = "/";
};

// Reads `http://host[:port][/path]`; https and other schemes are refused.
// TODO(offload): https notification URLs need a TLS client in src/net; until then they are refused.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

}  // namespace sb::offload
