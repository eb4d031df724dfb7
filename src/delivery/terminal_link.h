// What the exchange needs from a connected terminal, whatever carries it. The terminal gateway
// implements it over a WebSocket; the exchange itself knows no transport.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/message.h"

namespace sb::delivery {

enum class ReceiptStatus { kDelivered, kRead };

class TerminalLink {
 public:
  virtual ~TerminalLink() = default;

  // Hands a message to the terminal; `sender_platform_name` is shown beside the sender.
  virtual void Deliver(const SessionMessage& message, std::string_view sender_platform_name) = 0;
  virtual void Accepted(std::string_view client_id, std::string_view message_id, std::int64_t ts_ms,
                        bool duplicate) = 0;
  virtual void Rejected(std::string_view client_id, const Error& error) = 0;
  virtual void Receipt(std::string_view client_id, std::string_view message_id,
                       ReceiptStatus status) = 0;
  // Tells the terminal why and closes its connection.
  virtual void Disconnect(const Error& why) = 0;
  // Bytes waiting to be written to the terminal: how far behind it is.
  virtual std::size_t Backlog() const = 0;
};

}  // namespace sb::delivery
