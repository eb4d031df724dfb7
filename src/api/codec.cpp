#include "api/codec.h"

#include <boost/json.hpp>

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

}  // namespace

ClientFrame DecodeClientFrame(std::string_view text) {
  json::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return BadFrame("the frame is not valid JSON: " + ec.message());
  const json::object* frame = value.if_object();
  if (frame == nullptr) return BadFrame("a frame must be a JSON object");
  const json::string* type = StringMember(*frame, "type");
  if (type == nullptr) return BadFrame("a frame needs a string 'type'");

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
  json::object frame{
      {"type", "accepted"}, {"id", client_id}, {"message_id", message_id}, {"ts", ts_ms}};
  if (duplicate) frame["duplicate"] = true;
  return json::serialize(frame);
}

std::string EncodeRejected(std::string_view client_id, const Error& error) {
  return json::serialize(json::object{{"type", "rejected"},
                                      {"id", client_id},
                                      {"code", ErrorCodeName(error.code)},
                                      {"message", error.message}});
}

std::string EncodeMessage(const SessionMessage& message, std::string_view sender_platform_name) {
  json::object from = AddressObject(message.from);
  from["platform_name"] = sender_platform_name;
  json::object route{{"site", message.route.site},
                     {"dnai", message.route.dnai},
                     {"ulcl", message.route.ulcl},
                     {"psa", message.route.psa}};
  std::string frame = json::serialize(json::object{{"type", "message"},
                                                   {"message_id", message.message_id},
                                                   {"ts", message.ts_ms},
                                                   {"from", std::move(from)},
                                                   {"to", AddressObject(message.to)},
                                                   {"route", std::move(route)}});
  // The content was validated and serialised on the way in: splice it in rather than parse it
  // again for every device.
  frame.pop_back();
  frame.append(",\"content\":").append(message.content_json).push_back('}');
  return frame;
}

std::string EncodeReceipt(std::string_view client_id, std::string_view message_id,
                          std::string_view status) {
  return json::serialize(json::object{
      {"type", "receipt"}, {"id", client_id}, {"message_id", message_id}, {"status", status}});
}

std::string EncodeError(const Error& error) {
  return json::serialize(json::object{
      {"type", "error"}, {"code", ErrorCodeName(error.code)}, {"message", error.message}});
}

}  // namespace sb::api
