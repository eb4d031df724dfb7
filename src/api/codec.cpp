#include "api/codec.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <limits>

namespace sb::api {
namespace json = boost::json;
namespace {

FrameError BadFrame(std::string message, std::optional<std::string> client_id = std::nullopt) {
  return FrameError{MakeError(ErrorCode::kBadFrame, std::move(message)), std::move(client_id)};
}

// The string member `key` of `object`, or null when absent or not a string.
const json::string* StringMember(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  return v != nullptr ? v->if_string() : nullptr;
}

std::optional<Address> ReadAddress(const json::object& frame, std::string_view key) {
  const json::value* v = frame.if_contains(key);
  const json::object* object = v != nullptr ? v->if_object() : nullptr;
  if (object == nullptr) return std::nullopt;
  const json::string* platform = StringMember(*object, "platform");
  const json::string* account = StringMember(*object, "account");
  if (platform == nullptr || account == nullptr) return std::nullopt;
  return Address{std::string(*platform), std::string(*account)};
}

bool IsValidAppId(std::string_view app) {
  if (app.empty() || app.size() > kMaxAppIdBytes) return false;
  for (char c : app) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> ContentApp(const json::object& content) {
  const json::string* type = StringMember(content, "type");
  if (type == nullptr) return MakeError(ErrorCode::kBadFrame, "content needs a string 'type'");
  if (*type == "text") {
    if (StringMember(content, "text") == nullptr) {
      return MakeError(ErrorCode::kBadFrame, "text content needs a string 'text'");
    }
    return std::string(kChatApplication);
  }
  if (*type == "app") {
    const json::string* app = StringMember(content, "app");
    if (app == nullptr || !IsValidAppId(*app)) {
      return MakeError(ErrorCode::kBadFrame,
                       "app content needs an 'app' id of 1 to 64 letters, digits, '.', '-', '_'");
    }
    return std::string(*app);
  }
  return MakeError(ErrorCode::kBadFrame, "content type must be 'text' or 'app'");
}

ClientFrame DecodeHello(const json::object& frame) {
  const json::string* token = StringMember(frame, "token");
  if (token == nullptr) return BadFrame("hello needs a string 'token'");
  const json::string* device = StringMember(frame, "device");
  std::string device_id = device != nullptr ? std::string(*device) : std::string("default");
  if (device_id.empty() || device_id.size() > kMaxDeviceBytes || !IsValidAccount(device_id)) {
    return BadFrame("'device' must be 1 to 128 bytes without whitespace or control characters");
  }
  return HelloFrame{std::string(*token), std::move(device_id)};
}

ClientFrame DecodeSend(const json::object& frame) {
  const json::value* id_value = frame.if_contains("id");
  if (id_value == nullptr || !id_value->is_string() || id_value->get_string().empty() ||
      id_value->get_string().size() > kMaxClientIdBytes) {
    return BadFrame("send needs an 'id': a string of 1 to 128 bytes");
  }
  std::string client_id(id_value->get_string());

  auto from = ReadAddress(frame, "from");
  auto to = ReadAddress(frame, "to");
  if (!from || !to) {
    return BadFrame("send needs 'from' and 'to', each {platform, account} strings", client_id);
  }
  const json::value* content = frame.if_contains("content");
  if (content == nullptr || !content->is_object()) {
    return BadFrame("send needs a 'content' object", client_id);
  }
  auto app = ContentApp(content->get_object());
  if (!app) return FrameError{app.error(), client_id};
  return SendFrame{std::move(client_id), std::move(*from), std::move(*to),
                   json::serialize(*content), std::move(app).value()};
}

template <typename Frame>
ClientFrame DecodeMessageRef(const json::object& frame, std::string_view type) {
  const json::string* id = StringMember(frame, "message_id");
  if (id == nullptr) return BadFrame(std::string(type) + " needs a string 'message_id'");
  return Frame{std::string(*id)};
}

ClientFrame DecodeLocation(const json::object& frame) {
  const json::string* tai = StringMember(frame, "tai");
  const json::string* cell = StringMember(frame, "cell");
  if (tai == nullptr || cell == nullptr) return BadFrame("location needs 'tai' and 'cell' strings");
  return LocationFrame{std::string(*tai), std::string(*cell)};
}

json::object AddressObject(const Address& address) {
  return json::object{{"platform", address.platform}, {"account", address.account}};
}

// --- Decoding frames from the exchange ---

std::optional<std::int64_t> Int64Member(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* i = v->if_int64()) return *i;
  if (const auto* u = v->if_uint64()) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return static_cast<std::int64_t>(*u);
  }
  // A double outside the range of int64 (or NaN) has no integer value: converting it is undefined.
  constexpr double kInt64End = 9223372036854775808.0;  // 2^63
  if (const auto* d = v->if_double(); d != nullptr && *d >= -kInt64End && *d < kInt64End) {
    return static_cast<std::int64_t>(*d);
  }
  return std::nullopt;
}

std::string OptionalString(const json::object& object, std::string_view key) {
  const json::string* s = StringMember(object, key);
  return s != nullptr ? std::string(*s) : std::string();
}

ExchangeFrame DecodeWelcome(const json::object& frame) {
  const json::value* v = frame.if_contains("platform");
  const json::object* platform = v != nullptr ? v->if_object() : nullptr;
  const json::string* account = StringMember(frame, "account");
  if (platform == nullptr || StringMember(*platform, "id") == nullptr || account == nullptr)
    return BadFrame("welcome needs 'platform.id' and 'account' strings");
  return WelcomeFrame{OptionalString(*platform, "id"), OptionalString(*platform, "name"),
                      std::string(*account), OptionalString(frame, "session")};
}

ExchangeFrame DecodeAccepted(const json::object& frame) {
  const json::string* id = StringMember(frame, "id");
  const json::string* message_id = StringMember(frame, "message_id");
  auto ts = Int64Member(frame, "ts");
  if (id == nullptr || message_id == nullptr || !ts)
    return BadFrame("accepted needs 'id', 'message_id' and a numeric 'ts'");
  const json::value* duplicate = frame.if_contains("duplicate");
  const bool is_duplicate = duplicate != nullptr && duplicate->is_bool() && duplicate->get_bool();
  return AcceptedFrame{std::string(*id), std::string(*message_id), *ts, is_duplicate};
}

std::optional<WireError> ReadWireError(const json::object& frame) {
  const json::string* code = StringMember(frame, "code");
  if (code == nullptr) return std::nullopt;
  return WireError{std::string(*code), OptionalString(frame, "message")};
}

ExchangeFrame DecodeRejected(const json::object& frame) {
  const json::string* id = StringMember(frame, "id");
  auto error = ReadWireError(frame);
  if (id == nullptr || !error) return BadFrame("rejected needs 'id' and 'code' strings");
  return RejectedFrame{std::string(*id), std::move(*error)};
}

ExchangeFrame DecodeError(const json::object& frame) {
  auto error = ReadWireError(frame);
  if (!error) return BadFrame("error needs a 'code' string");
  return ErrorFrame{std::move(*error)};
}

ExchangeFrame DecodeReceipt(const json::object& frame) {
  const json::string* id = StringMember(frame, "id");
  const json::string* message_id = StringMember(frame, "message_id");
  const json::string* status = StringMember(frame, "status");
  if (id == nullptr || message_id == nullptr || status == nullptr ||
      (*status != "delivered" && *status != "read")) {
    return BadFrame("receipt needs 'id', 'message_id' and a 'status' of delivered or read");
  }
  return ReceiptFrame{std::string(*id), std::string(*message_id),
                      *status == "read" ? ReceiptStatus::kRead : ReceiptStatus::kDelivered};
}

Route ReadRoute(const json::object& frame) {
  const json::value* v = frame.if_contains("route");
  const json::object* route = v != nullptr ? v->if_object() : nullptr;
  if (route == nullptr) return {};
  return Route{OptionalString(*route, "site"), OptionalString(*route, "dnai"),
               OptionalString(*route, "ulcl"), OptionalString(*route, "psa")};
}

ExchangeFrame DecodeMessage(const json::object& frame) {
  const json::string* message_id = StringMember(frame, "message_id");
  auto ts = Int64Member(frame, "ts");
  auto from = ReadAddress(frame, "from");
  auto to = ReadAddress(frame, "to");
  if (message_id == nullptr || !ts || !from || !to)
    return BadFrame("message needs 'message_id', a numeric 'ts', 'from' and 'to'");

  const json::value* content = frame.if_contains("content");
  if (content == nullptr || !content->is_object())
    return BadFrame("message needs a 'content' object");
  auto app = ContentApp(content->get_object());
  if (!app) return FrameError{app.error(), std::nullopt};

  const json::object& from_object = frame.at("from").get_object();
  return MessageFrame{std::string(*message_id), *ts,
                      std::move(*from),         OptionalString(from_object, "platform_name"),
                      std::move(*to),           json::serialize(*content),
                      std::move(app).value(),   ReadRoute(frame)};
}

// Room for the DOM of a typical frame (a send of a few hundred bytes needs about 1 KiB), so that
// decoding one allocates nothing from the heap; a larger frame spills over into heap blocks.
constexpr std::size_t kFrameArenaBytes = 4096;

// Reads the envelope every frame shares, in both directions: a JSON object with a string `type`.
// On success `value` holds that object, its memory from `arena`; otherwise the answer to give.
std::optional<FrameError> ParseEnvelope(std::string_view text, json::monotonic_resource& arena,
                                        json::value& value) {
  json::error_code ec;
  value = json::parse(text, ec, json::storage_ptr(&arena));
  if (ec) return BadFrame("the frame is not valid JSON: " + ec.message());
  const json::object* frame = value.if_object();
  if (frame == nullptr) return BadFrame("a frame must be a JSON object");
  if (StringMember(*frame, "type") == nullptr) return BadFrame("a frame needs a string 'type'");
  return std::nullopt;
}

// Writes a frame of fixed shape by appending to one string; Boost.JSON escapes the strings that
// need it (AppendJsonString). Members are written in the order called, so a frame keeps the
// member order that the DOM encoders gave it.
class FrameWriter {
 public:
  explicit FrameWriter(std::size_t expected_bytes) { out_.reserve(expected_bytes); }

  // `{"type":"<type>"`
  void Open(std::string_view type) { out_.append("{\"type\":\"").append(type).push_back('"'); }
  // A member of an object just opened with Raw("...{").
  void FirstMember(std::string_view key, std::string_view text) {
    out_.append(1, '"').append(key).append("\":");
    AppendJsonString(out_, text);
  }
  void Member(std::string_view key, std::string_view text) {
    out_.push_back(',');
    FirstMember(key, text);
  }
  void Member(std::string_view key, std::int64_t number) {
    out_.append(",\"").append(key).append("\":");
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
    out_.append(digits, end);
  }
  void Raw(std::string_view json) { out_.append(json); }
  std::string Close() {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  std::string out_;
};

// Addresses, names, route and member names of a `message` frame, without its content.
constexpr std::size_t kMessageEnvelopeBytes = 256;

}  // namespace

ClientFrame DecodeClientFrame(std::string_view text) {
  alignas(std::max_align_t) unsigned char buffer[kFrameArenaBytes];
  json::monotonic_resource arena(buffer, sizeof buffer);
  // Same resource as the parse result, so that assigning it moves instead of copying.
  const json::storage_ptr storage(&arena);
  json::value value(storage);
  if (auto bad = ParseEnvelope(text, arena, value)) return std::move(*bad);
  const json::object* frame = &value.get_object();
  const json::string* type = &frame->at("type").get_string();

  if (*type == "send") return DecodeSend(*frame);
  if (*type == "ack") return DecodeMessageRef<AckFrame>(*frame, "ack");
  if (*type == "read") return DecodeMessageRef<ReadFrame>(*frame, "read");
  if (*type == "hello") return DecodeHello(*frame);
  if (*type == "location") return DecodeLocation(*frame);
  return BadFrame("unknown frame type '" + std::string(*type) + "'");
}

Result<std::string> ValidateContent(std::string_view content_json) {
  json::error_code ec;
  json::value value = json::parse(content_json, ec);
  if (ec || !value.is_object()) return MakeError(ErrorCode::kBadFrame, "content must be an object");
  return ContentApp(value.get_object());
}

std::string EncodeWelcome(std::string_view platform_id, std::string_view platform_name,
                          std::string_view account, std::string_view session) {
  return json::serialize(
      json::object{{"type", "welcome"},
                   {"platform", json::object{{"id", platform_id}, {"name", platform_name}}},
                   {"account", account},
                   {"session", session}});
}

std::string EncodeAccepted(std::string_view client_id, std::string_view message_id,
                           std::int64_t ts_ms, bool duplicate) {
  FrameWriter frame(64 + client_id.size() + message_id.size());
  frame.Open("accepted");
  frame.Member("id", client_id);
  frame.Member("message_id", message_id);
  frame.Member("ts", ts_ms);
  if (duplicate) frame.Raw(",\"duplicate\":true");
  return frame.Close();
}

std::string EncodeRejected(std::string_view client_id, const Error& error) {
  FrameWriter frame(64 + client_id.size() + error.message.size());
  frame.Open("rejected");
  frame.Member("id", client_id);
  frame.Member("code", ErrorCodeName(error.code));
  frame.Member("message", error.message);
  return frame.Close();
}

std::string EncodeMessage(const SessionMessage& message, std::string_view sender_platform_name) {
  const Address& from = message.from;
  const Route& route = message.route;
  FrameWriter frame(kMessageEnvelopeBytes + message.content_json.size() + from.account.size() +
                    message.to.account.size() + sender_platform_name.size());
  frame.Open("message");
  frame.Member("message_id", message.message_id);
  frame.Member("ts", message.ts_ms);
  frame.Raw(",\"from\":{");
  frame.FirstMember("platform", from.platform);
  frame.Member("account", from.account);
  frame.Member("platform_name", sender_platform_name);
  frame.Raw("},\"to\":{");
  frame.FirstMember("platform", message.to.platform);
  frame.Member("account", message.to.account);
  frame.Raw("},\"route\":{");
  frame.FirstMember("site", route.site);
  frame.Member("dnai", route.dnai);
  frame.Member("ulcl", route.ulcl);
  frame.Member("psa", route.psa);
  // The content was validated and serialised on the way in: spliced in, not parsed again.
  frame.Raw("},\"content\":");
  frame.Raw(message.content_json);
  return frame.Close();
}

std::string EncodeReceipt(std::string_view client_id, std::string_view message_id,
                          std::string_view status) {
  FrameWriter frame(64 + client_id.size() + message_id.size());
  frame.Open("receipt");
  frame.Member("id", client_id);
  frame.Member("message_id", message_id);
  frame.Member("status", status);
  return frame.Close();
}

std::string EncodeError(const Error& error) {
  FrameWriter frame(64 + error.message.size());
  frame.Open("error");
  frame.Member("code", ErrorCodeName(error.code));
  frame.Member("message", error.message);
  return frame.Close();
}

void AppendJsonString(std::string& out, std::string_view text) {
  const bool plain = std::none_of(text.begin(), text.end(), [](char c) {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
  if (plain) {
    out.push_back('"');
    out.append(text);
    out.push_back('"');
    return;
  }
  out.append(json::serialize(json::string_view(text.data(), text.size())));
}

ExchangeFrame DecodeExchangeFrame(std::string_view text) {
  alignas(std::max_align_t) unsigned char buffer[kFrameArenaBytes];
  json::monotonic_resource arena(buffer, sizeof buffer);
  // Same resource as the parse result, so that assigning it moves instead of copying.
  const json::storage_ptr storage(&arena);
  json::value value(storage);
  if (auto bad = ParseEnvelope(text, arena, value)) return std::move(*bad);
  const json::object* frame = &value.get_object();
  const json::string* type = &frame->at("type").get_string();

  if (*type == "message") return DecodeMessage(*frame);
  if (*type == "accepted") return DecodeAccepted(*frame);
  if (*type == "receipt") return DecodeReceipt(*frame);
  if (*type == "rejected") return DecodeRejected(*frame);
  if (*type == "welcome") return DecodeWelcome(*frame);
  if (*type == "error") return DecodeError(*frame);
  return UnknownFrame{std::string(*type)};
}

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  // kInternal is the last enumerator of ErrorCode.
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    if (ErrorCodeName(code) == name) return code;
  }
  return std::nullopt;
}

std::string EncodeHello(const HelloFrame& hello) {
  return json::serialize(
      json::object{{"type", "hello"}, {"token", hello.token}, {"device", hello.device}});
}

std::string EncodeSend(const SendFrame& send) {
  std::string frame = json::serialize(json::object{{"type", "send"},
                                                   {"id", send.client_id},
                                                   {"from", AddressObject(send.from)},
                                                   {"to", AddressObject(send.to)}});
  // Splice the already validated content in, as EncodeMessage does.
  frame.pop_back();
  frame.append(",\"content\":").append(send.content_json).push_back('}');
  return frame;
}

std::string EncodeAck(const AckFrame& ack) {
  return json::serialize(json::object{{"type", "ack"}, {"message_id", ack.message_id}});
}

std::string EncodeRead(const ReadFrame& read) {
  return json::serialize(json::object{{"type", "read"}, {"message_id", read.message_id}});
}

std::string EncodeLocation(const LocationFrame& location) {
  return json::serialize(
      json::object{{"type", "location"}, {"tai", location.tai}, {"cell", location.cell}});
}

std::string TextContent(std::string_view text) {
  return json::serialize(json::object{{"type", "text"}, {"text", text}});
}

std::optional<std::string> ContentText(std::string_view content_json) {
  json::error_code ec;
  json::value value = json::parse(content_json, ec);
  const json::object* content = ec ? nullptr : value.if_object();
  if (content == nullptr) return std::nullopt;
  const json::string* type = StringMember(*content, "type");
  const json::string* text = StringMember(*content, "text");
  if (type == nullptr || *type != "text" || text == nullptr) return std::nullopt;
  return std::string(*text);
}

}  // namespace sb::api
