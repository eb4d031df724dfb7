// The session message: content plus the four identities (sender platform and account, recipient
// platform and account), and the route by which it left the operator's network.
#pragma once

#include <cstdint>
#include <string>

#include "core/identity.h"

namespace sb {

// The egress chosen for a message: the site and, on an edge site, the DNAI, the UL CL UPF and the
// local PSA. On the main anchor `ulcl` is empty and `psa` names the main PSA.
struct Route {
  std::string site;
  std::string dnai;
  std::string ulcl;
  std::string psa;

  bool operator==(const Route&) const = default;
};

// The application id that plain text content counts as.
inline constexpr const char* kChatApplication = "chat";

struct SessionMessage {
  std::string message_id;  // assigned by the exchange, unique, never reused
  std::int64_t ts_ms = 0;  // acceptance time, milliseconds since the Unix epoch
  Address from;
  Address to;
  std::string from_device;   // the sending device
  std::string client_id;     // the sender's own id for the message, used for dedup
  std::string content_json;  // a validated JSON object, kept as text
  std::string app;           // application id of the content ("chat" for text)
  Route route;
};

}  // namespace sb
