#include "api/codec.h"

#include <algorithm>
#include <array>
#include <boost/container/small_vector.hpp>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <functional>
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

// The application id of a content object from its `type`, `text` and `app` members (null when
// absent or not a string), or kBadFrame.
Result<std::string> ContentAppOf(const std::string_view* type, bool has_text,
                                 const std::string_view* app) {
  if (type == nullptr) return MakeError(ErrorCode::kBadFrame, "content needs a string 'type'");
  if (*type == "text") {
    if (!has_text) return MakeError(ErrorCode::kBadFrame, "text content needs a string 'text'");
    return std::string(kChatApplication);
  }
  if (*type == "app") {
    if (app == nullptr || !IsValidAppId(*app)) {
      return MakeError(ErrorCode::kBadFrame,
                       "app content needs an 'app' id of 1 to 64 letters, digits, '.', '-', '_'");
    }
    return std::string(*app);
  }
  return MakeError(ErrorCode::kBadFrame, "content type must be 'text' or 'app'");
}

Result<std::string> ContentApp(const json::object& content) {
  const json::string* type = StringMember(content, "type");
  const json::string* app = StringMember(content, "app");
  const std::string_view type_view = type != nullptr ? std::string_view(*type) : "";
  const std::string_view app_view = app != nullptr ? std::string_view(*app) : "";
  return ContentAppOf(type != nullptr ? &type_view : nullptr,
                      StringMember(content, "text") != nullptr,
                      app != nullptr ? &app_view : nullptr);
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

// --- Decoding frames from the terminal: one pass, no DOM ---

// A member of a client frame as read: absent, a string, or some other JSON value. A member given
// twice keeps its last value, as Boost.JSON's DOM does.
class FieldValue {
 public:
  void SetString(std::string_view text) {
    kind_ = Kind::kString;
    text_.assign(text);
  }
  void MarkString() {
    kind_ = Kind::kString;
    text_.clear();
  }
  void SetOther() { kind_ = Kind::kOther; }
  void Reset() { kind_ = Kind::kAbsent; }
  bool present() const { return kind_ != Kind::kAbsent; }
  const std::string* string() const { return kind_ == Kind::kString ? &text_ : nullptr; }
  std::string&& Take() { return std::move(text_); }

 private:
  enum class Kind { kAbsent, kString, kOther };
  Kind kind_ = Kind::kAbsent;
  std::string text_;
};

struct AddressFields {
  bool is_object = false;
  FieldValue platform;
  FieldValue account;
};

// What DecodeClientFrame needs from a frame: the top-level members of every client frame type, the
// two addresses, and the content object, re-serialised byte for byte as json::serialize writes its
// DOM, with the `type`, `text` and `app` members that say which application it is for.
struct ClientFrameFields {
  bool root_is_object = false;
  FieldValue type, id, token, device, message_id, tai, cell;
  AddressFields from, to;
  bool content_is_object = false;
  std::string content_json;
  FieldValue content_type, content_text, content_app;
};

// A boost::json::basic_parser handler that fills ClientFrameFields as the parser walks the frame.
// Depth 1 is the frame object's own members; depth 2 the members of `from`, `to` and `content`.
class ClientFrameReader {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  ClientFrameFields& fields() { return fields_; }
  // The text about to be parsed: strings that the parser hands over as views into it had no
  // escapes, so they are copied into the content as they are.
  void SetInput(std::string_view text) { input_ = text; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    if (depth_ == 0) {
      fields_.root_is_object = true;
    } else if (depth_ == 1) {
      BeginTopObject();
    } else if (FieldValue* field = Target()) {
      field->SetOther();
    }
    if (InContent()) OpenContainer('{');
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    --depth_;
    if (InContent()) CloseContainer('}');
    return true;
  }
  bool on_array_begin(json::error_code&) {
    Scalar();
    if (InContent()) OpenContainer('[');
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    --depth_;
    if (InContent()) CloseContainer(']');
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    const std::string_view key = Whole(s);
    if (depth_ == 1) top_key_ = TopKeyOf(key);
    if (depth_ == 2) inner_key_.assign(key);
    if (InContent()) {
      content_keys_.emplace_back(objects_, std::hash<std::string_view>{}(key));
      Separate();
      AppendString(key);
      fields_.content_json.push_back(':');
      after_key_ = true;
    }
    part_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    const std::string_view text = Whole(s);
    ReplaceTop();
    if (FieldValue* field = Target()) {
      // Only whether the text is a string matters; the content carries the text itself.
      if (field == &fields_.content_text) {
        field->MarkString();
      } else {
        field->SetString(text);
      }
    }
    if (InContent()) {
      Separate();
      AppendString(text);
    }
    part_.clear();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) { return Number(i); }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) { return Number(u); }
  bool on_double(double d, json::string_view, json::error_code&) {
    Scalar();
    if (InContent()) {
      Separate();
      fields_.content_json.append(json::serialize(json::value(d)));
    }
    return true;
  }
  bool on_bool(bool b, json::error_code&) { return Literal(b ? "true" : "false"); }
  bool on_null(json::error_code&) { return Literal("null"); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  enum class TopKey {
    kOther,
    kType,
    kId,
    kToken,
    kDevice,
    kMessageId,
    kTai,
    kCell,
    kFrom,
    kTo,
    kContent
  };

  static TopKey TopKeyOf(std::string_view key) {
    static constexpr std::pair<std::string_view, TopKey> kKeys[] = {
        {"type", TopKey::kType},
        {"id", TopKey::kId},
        {"token", TopKey::kToken},
        {"device", TopKey::kDevice},
        {"message_id", TopKey::kMessageId},
        {"tai", TopKey::kTai},
        {"cell", TopKey::kCell},
        {"from", TopKey::kFrom},
        {"to", TopKey::kTo},
        {"content", TopKey::kContent}};
    for (const auto& [name, top] : kKeys) {
      if (key == name) return top;
    }
    return TopKey::kOther;
  }

  // Appends a string of the content: as it was in the input when it had no escapes (it then has
  // nothing that needs them), else escaped afresh.
  void AppendString(std::string_view text) {
    const std::less<const char*> before;
    const bool verbatim = part_.empty() && !before(text.data(), input_.data()) &&
                          !before(input_.data() + input_.size(), text.data() + text.size());
    if (!verbatim) {
      AppendJsonString(fields_.content_json, text);
      return;
    }
    fields_.content_json.push_back('"');
    fields_.content_json.append(text);
    fields_.content_json.push_back('"');
  }

  // The string just completed: the parser's view, or the parts gathered before it.
  std::string_view Whole(json::string_view last) {
    if (part_.empty()) return std::string_view(last.data(), last.size());
    part_.append(last.data(), last.size());
    return part_;
  }

  // The field that a string or other scalar at the current position sets, if any.
  FieldValue* Target() {
    if (depth_ == 1) {
      switch (top_key_) {
        case TopKey::kType:
          return &fields_.type;
        case TopKey::kId:
          return &fields_.id;
        case TopKey::kToken:
          return &fields_.token;
        case TopKey::kDevice:
          return &fields_.device;
        case TopKey::kMessageId:
          return &fields_.message_id;
        case TopKey::kTai:
          return &fields_.tai;
        case TopKey::kCell:
          return &fields_.cell;
        default:
          return nullptr;
      }
    }
    if (depth_ != 2) return nullptr;
    if (top_key_ == TopKey::kFrom || top_key_ == TopKey::kTo) {
      AddressFields& address = top_key_ == TopKey::kFrom ? fields_.from : fields_.to;
      if (inner_key_ == "platform") return &address.platform;
      if (inner_key_ == "account") return &address.account;
    }
    if (top_key_ == TopKey::kContent && fields_.content_is_object) {
      if (inner_key_ == "type") return &fields_.content_type;
      if (inner_key_ == "text") return &fields_.content_text;
      if (inner_key_ == "app") return &fields_.content_app;
    }
    return nullptr;
  }

  // A top-level member's value that is an object: `from`, `to` and `content` start afresh.
  void BeginTopObject() {
    if (top_key_ == TopKey::kFrom) fields_.from = AddressFields{true, {}, {}};
    if (top_key_ == TopKey::kTo) fields_.to = AddressFields{true, {}, {}};
    if (top_key_ == TopKey::kContent) {
      fields_.content_is_object = true;
      fields_.content_json.clear();
      fields_.content_type.Reset();
      fields_.content_text.Reset();
      fields_.content_app.Reset();
      content_keys_.clear();
      content_depth_ = 1;
    }
    if (FieldValue* field = Target()) field->SetOther();
  }

  // A top-level `from`, `to` or `content` given as something other than an object.
  void ReplaceTop() {
    if (depth_ != 1) return;
    if (top_key_ == TopKey::kFrom) fields_.from = AddressFields{};
    if (top_key_ == TopKey::kTo) fields_.to = AddressFields{};
    if (top_key_ == TopKey::kContent) {
      fields_.content_is_object = false;
      content_depth_ = 0;
    }
  }
  // A value that is neither a string nor an object: it unsets what it replaces.
  void Scalar() {
    ReplaceTop();
    if (FieldValue* field = Target()) field->SetOther();
  }

  template <typename Integer>
  bool Number(Integer n) {
    Scalar();
    if (InContent()) {
      Separate();
      char digits[24];
      fields_.content_json.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
    }
    return true;
  }
  bool Literal(std::string_view literal) {
    Scalar();
    if (InContent()) {
      Separate();
      fields_.content_json.append(literal);
    }
    return true;
  }

  // Whether the current event belongs to the content object (its own braces included).
  bool InContent() const { return content_depth_ > 0 && depth_ >= content_depth_; }
  void OpenContainer(char bracket) {
    if (bracket == '{') ++objects_;
    if (depth_ > content_depth_) Separate();
    fields_.content_json.push_back(bracket);
    first_in_container_ = true;
  }
  void CloseContainer(char bracket) {
    fields_.content_json.push_back(bracket);
    first_in_container_ = false;
    if (depth_ == content_depth_) FinishContent();
  }
  // The DOM keeps only the last of duplicate keys; so does the copy, by a second pass through the
  // DOM in that rare case (and on a mere hash collision, which is harmless).
  void FinishContent() {
    content_depth_ = -content_depth_;  // stop copying
    std::sort(content_keys_.begin(), content_keys_.end());
    if (std::adjacent_find(content_keys_.begin(), content_keys_.end()) != content_keys_.end()) {
      json::error_code ec;
      const json::value dom = json::parse(fields_.content_json, ec);
      if (!ec) fields_.content_json = json::serialize(dom);
    }
  }
  // The comma before a member or element, unless it is the first one or a key precedes it.
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_in_container_) fields_.content_json.push_back(',');
    first_in_container_ = false;
  }

  ClientFrameFields fields_;
  std::string_view input_;
  int depth_ = 0;
  TopKey top_key_ = TopKey::kOther;
  std::string inner_key_;
  std::string part_;
  int content_depth_ = 0;      // > 0 while the content object is being copied
  std::uint32_t objects_ = 0;  // objects opened in the content so far: tells them apart
  // (object, hash of key) of every key copied into the content
  boost::container::small_vector<std::pair<std::uint32_t, std::size_t>, 16> content_keys_;
  bool first_in_container_ = true;
  bool after_key_ = false;
};

ClientFrame DecodeHello(ClientFrameFields& frame) {
  const std::string* token = frame.token.string();
  if (token == nullptr) return BadFrame("hello needs a string 'token'");
  const std::string* device = frame.device.string();
  std::string device_id = device != nullptr ? *device : std::string("default");
  if (device_id.empty() || device_id.size() > kMaxDeviceBytes || !IsValidAccount(device_id)) {
    return BadFrame("'device' must be 1 to 128 bytes without whitespace or control characters");
  }
  return HelloFrame{frame.token.Take(), std::move(device_id)};
}

std::optional<Address> AddressOf(const AddressFields& fields) {
  const std::string* platform = fields.platform.string();
  const std::string* account = fields.account.string();
  if (!fields.is_object || platform == nullptr || account == nullptr) return std::nullopt;
  return Address{*platform, *account};
}

Result<std::string> ContentAppOf(const ClientFrameFields& frame) {
  const std::string* type = frame.content_type.string();
  const std::string* app = frame.content_app.string();
  const std::string_view type_view = type != nullptr ? std::string_view(*type) : "";
  const std::string_view app_view = app != nullptr ? std::string_view(*app) : "";
  return ContentAppOf(type != nullptr ? &type_view : nullptr,
                      frame.content_text.string() != nullptr, app != nullptr ? &app_view : nullptr);
}

ClientFrame DecodeSend(ClientFrameFields& frame) {
  const std::string* id = frame.id.string();
  if (id == nullptr || id->empty() || id->size() > kMaxClientIdBytes) {
    return BadFrame("send needs an 'id': a string of 1 to 128 bytes");
  }
  auto from = AddressOf(frame.from);
  auto to = AddressOf(frame.to);
  if (!from || !to) {
    return BadFrame("send needs 'from' and 'to', each {platform, account} strings", *id);
  }
  if (!frame.content_is_object) return BadFrame("send needs a 'content' object", *id);
  auto app = ContentAppOf(frame);
  if (!app) return FrameError{app.error(), *id};
  return SendFrame{frame.id.Take(), std::move(*from), std::move(*to), std::move(frame.content_json),
                   std::move(app).value()};
}

template <typename Frame>
ClientFrame DecodeMessageRef(ClientFrameFields& frame, std::string_view type) {
  const std::string* id = frame.message_id.string();
  if (id == nullptr) return BadFrame(std::string(type) + " needs a string 'message_id'");
  return Frame{frame.message_id.Take()};
}

ClientFrame DecodeLocation(ClientFrameFields& frame) {
  const std::string* tai = frame.tai.string();
  const std::string* cell = frame.cell.string();
  if (tai == nullptr || cell == nullptr) return BadFrame("location needs 'tai' and 'cell' strings");
  return LocationFrame{frame.tai.Take(), frame.cell.Take()};
}

}  // namespace

ClientFrame DecodeClientFrame(std::string_view text) {
  json::basic_parser<ClientFrameReader> parser(json::parse_options{});
  parser.handler().SetInput(text);
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = json::error::extra_data;
  if (ec) return BadFrame("the frame is not valid JSON: " + ec.message());

  ClientFrameFields& fields = parser.handler().fields();
  if (!fields.root_is_object) return BadFrame("a frame must be a JSON object");
  const std::string* type = fields.type.string();
  if (type == nullptr) return BadFrame("a frame needs a string 'type'");

  if (*type == "send") return DecodeSend(fields);
  if (*type == "ack") return DecodeMessageRef<AckFrame>(fields, "ack");
  if (*type == "read") return DecodeMessageRef<ReadFrame>(fields, "read");
  if (*type == "hello") return DecodeHello(fields);
  if (*type == "location") return DecodeLocation(fields);
  return BadFrame("unknown frame type '" + *type + "'");
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
  // The bytes Boost.JSON's serializer escapes.
  static constexpr auto kEscaped = [] {
    std::array<bool, 256> escaped{};
    for (int c = 0; c < 0x20; ++c)
      escaped[static_cast<std::size_t>(c)] = true;
    escaped['"'] = escaped['\\'] = true;
    return escaped;
  }();
  bool plain = true;
  for (const char c : text)
    plain &= !kEscaped[static_cast<unsigned char>(c)];
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
