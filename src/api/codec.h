// The terminal protocol's frames: decoded from and encoded to JSON text in this one place, shared
// by the exchange and the client library.
//
// Decoding never throws: input that is not a well-formed frame yields a FrameError carrying the
// stable code to answer with (and the client id when one could be read, so that a bad `send` is
// answered with `rejected` for that id).
//
// The exchange decodes terminal frames (DecodeClientFrame) and encodes its own (Encode*); the
// client library does the reverse with DecodeExchangeFrame and the Encode* functions for terminal
// frames at the end of this header. Every function here is pure and safe from any thread.
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

// Appends `text` to `out` as a JSON string: quoted, with `"`, `\` and control characters escaped
// exactly as Boost.JSON's serializer escapes them (other bytes, UTF-8 included, are copied).
void AppendJsonString(std::string& out, std::string_view text);

// --- Client side: frames from the exchange, decoded
// -----------------------------------------------

struct WelcomeFrame {
  std::string platform_id;
  std::string platform_name;
  std::string account;
  std::string session;
};

struct AcceptedFrame {
  std::string client_id;
  std::string message_id;
  std::int64_t ts_ms = 0;
  bool duplicate = false;
};

// A code as the exchange wrote it. Newer exchanges may send codes this build does not know, so the
// wire name is kept; ErrorCodeFromName maps the known ones.
struct WireError {
  std::string code;
  std::string message;
};

struct RejectedFrame {
  std::string client_id;
  WireError error;
};

struct MessageFrame {
  std::string message_id;
  std::int64_t ts_ms = 0;
  Address from;
  std::string from_platform_name;
  Address to;
  std::string content_json;  // the content object, re-serialised
  std::string app;           // "chat" for text content
  Route route;               // members absent from the frame stay empty
};

enum class ReceiptStatus { kDelivered, kRead };

struct ReceiptFrame {
  std::string client_id;
  std::string message_id;
  ReceiptStatus status = ReceiptStatus::kDelivered;
};

struct ErrorFrame {
  WireError error;
};

// A well-formed frame of a type this build does not know: the contract lets the exchange add
// frames, so a client ignores these rather than treating them as errors.
struct UnknownFrame {
  std::string type;
};

using ExchangeFrame = std::variant<WelcomeFrame, AcceptedFrame, RejectedFrame, MessageFrame,
                                   ReceiptFrame, ErrorFrame, UnknownFrame, FrameError>;

// Decodes one frame from the exchange. Unknown members are ignored; a missing or mistyped required
// member yields FrameError (kBadFrame). `ts` may be any JSON number.
ExchangeFrame DecodeExchangeFrame(std::string_view text);

// The code named `name` (e.g. "rate_limited"), or nullopt for a name this build does not know.
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);

// --- Client side: frames to the exchange, encoded
// --------------------------------------------------

std::string EncodeHello(const HelloFrame& hello);
// Precondition: `send.content_json` is a content object that ValidateContent accepts (it is
// spliced in as it is). `send.app` is not sent: the exchange derives it from the content.
std::string EncodeSend(const SendFrame& send);
std::string EncodeAck(const AckFrame& ack);
std::string EncodeRead(const ReadFrame& read);
std::string EncodeLocation(const LocationFrame& location);

// `{"type":"text","text":<text>}`, for EncodeSend.
std::string TextContent(std::string_view text);
// The text of text content; nullopt for application content or input that is not a content object.
std::optional<std::string> ContentText(std::string_view content_json);

}  // namespace sb::api
