// The terminal protocol's frames: decoded from and encoded to JSON text in this one place, shared
// by the exchange and the client library.
//
// Decoding never throws: input that is not a well-formed frame yields a FrameError carrying the
// stable code to answer with (and the client id when one could be read, so that a bad `send` is
// answered with `rejected` for that id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.h"
#include "core/message.h"

namespace sb::api {

struct HelloFrame {
  std::string token;
  std::string device;
};

struct SendFrame {
  std::string client_id;
  Address from;
  Address to;
  std::string content_json;  // the content object, re-serialised
  std::string app;           // "chat" for text content
};

struct AckFrame {
  std::string message_id;
};

struct ReadFrame {
  std::string message_id;
};

struct LocationFrame {
  std::string tai;
  std::string cell;
};

struct FrameError {
  Error error;
  std::optional<std::string> client_id;  // set for a `send` whose id could be read
};

using ClientFrame =
    std::variant<HelloFrame, SendFrame, AckFrame, ReadFrame, LocationFrame, FrameError>;

inline constexpr std::size_t kMaxClientIdBytes = 128;
inline constexpr std::size_t kMaxDeviceBytes = 128;
inline constexpr std::size_t kMaxAppIdBytes = 64;

// Decodes one frame from a terminal.
ClientFrame DecodeClientFrame(std::string_view text);

// Checks a content object and returns its application id ("chat" for text), or kBadFrame.
Result<std::string> ValidateContent(std::string_view content_json);

// --- Frames from the exchange --------------------------------------------------------------------

std::string EncodeWelcome(std::string_view platform_id, std::string_view platform_name,
                          std::string_view account, std::string_view session);
std::string EncodeAccepted(std::string_view client_id, std::string_view message_id,
                           std::int64_t ts_ms, bool duplicate);
std::string EncodeRejected(std::string_view client_id, const Error& error);
std::string EncodeMessage(const SessionMessage& message, std::string_view sender_platform_name);
// `status` is "delivered" or "read".
std::string EncodeReceipt(std::string_view client_id, std::string_view message_id,
                          std::string_view status);
std::string EncodeError(const Error& error);

}  // namespace sb::api
