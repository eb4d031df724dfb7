#include "api/codec.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sb::api {
namespace {

namespace json = boost::json;

template <typename T>
const T& As(const ClientFrame& frame) {
  const T* value = std::get_if<T>(&frame);
  if (value == nullptr) {
    const auto* error = std::get_if<FrameError>(&frame);
    ADD_FAILURE() << "unexpected frame kind" << (error ? ": " + error->error.message : "");
    static T empty{};
    return empty;
  }
  return *value;
}

TEST(CodecTest, DecodesSendWithAllFiveParts) {
  auto frame = DecodeClientFrame(
      R"({"type":"send","id":"c1","from":{"platform":"meta","account":"alice"},)"
      R"("to":{"platform":"shop","account":"bob"},"content":{"type":"text","text":"hi"}})");
  const auto& send = As<SendFrame>(frame);
  EXPECT_EQ(send.client_id, "c1");
  EXPECT_EQ(send.from, (Address{"meta", "alice"}));
  EXPECT_EQ(send.to, (Address{"shop", "bob"}));
  EXPECT_EQ(send.app, "chat");
  EXPECT_EQ(json::parse(send.content_json), json::parse(R"({"type":"text","text":"hi"})"));
}

TEST(CodecTest, AppContentCarriesItsApplicationId) {
  auto frame = DecodeClientFrame(
      R"({"type":"send","id":"c1","from":{"platform":"a","account":"x"},)"
      R"("to":{"platform":"b","account":"y"},"content":{"type":"app","app":"vr.pose","q":[1,2]}})");
  EXPECT_EQ(As<SendFrame>(frame).app, "vr.pose");
}

TEST(CodecTest, BadSendKeepsItsClientId) {
  auto frame = DecodeClientFrame(
      R"({"type":"send","id":"c9","from":{"platform":"a"},"to":{"platform":"b","account":"y"},)"
      R"("content":{"type":"text","text":"x"}})");
  const auto& error = As<FrameError>(frame);
  EXPECT_EQ(error.error.code, ErrorCode::kBadFrame);
  ASSERT_TRUE(error.client_id.has_value());
  EXPECT_EQ(*error.client_id, "c9");
}

TEST(CodecTest, RefusesMalformedFrames) {
  for (
      const char* text :
      {"", "not json", "[]", "{}", R"({"type":7})", R"({"type":"dance"})", R"({"type":"hello"})",
       R"({"type":"ack"})", R"({"type":"location","tai":"x"})",
       R"({"type":"send","from":{"platform":"a","account":"x"}})",
       R"({"type":"send","id":"c","from":{"platform":"a","account":"x"},"to":{"platform":"b","account":"y"},"content":{"type":"text"}})",
       R"({"type":"send","id":"c","from":{"platform":"a","account":"x"},"to":{"platform":"b","account":"y"},"content":{"type":"video"}})",
       R"({"type":"send","id":"c","from":{"platform":"a","account":"x"},"to":{"platform":"b","account":"y"},"content":{"type":"app","app":"has space"}})",
       R"({"type":"hello","token":"t","device":"two words"})"}) {
    auto frame = DecodeClientFrame(text);
    const auto* error = std::get_if<FrameError>(&frame);
    ASSERT_NE(error, nullptr) << text;
    EXPECT_EQ(error->error.code, ErrorCode::kBadFrame) << text;
  }
}

TEST(CodecTest, HelloDefaultsTheDevice) {
  auto frame = DecodeClientFrame(R"({"type":"hello","token":"abc"})");
  EXPECT_EQ(As<HelloFrame>(frame).device, "default");
}

TEST(CodecTest, EncodesMessageWithSenderPlatformNameAndRoute) {
  SessionMessage message;
  message.message_id = "00ff";
  message.ts_ms = 1234;
  message.from = {"meta", "alice"};
  message.to = {"shop", "bob"};
  message.content_json = R"({"type":"text","text":"hi"})";
  message.route = {"edge-sz", "dnai-sz", "ulcl-sz", "psa-sz"};
  json::value frame = json::parse(EncodeMessage(message, "Meta World"));
  EXPECT_EQ(frame.at("type"), "message");
  EXPECT_EQ(frame.at("message_id"), "00ff");
  EXPECT_EQ(frame.at("ts"), 1234);
  EXPECT_EQ(frame.at("from").at("platform"), "meta");
  EXPECT_EQ(frame.at("from").at("platform_name"), "Meta World");
  EXPECT_EQ(frame.at("from").at("account"), "alice");
  EXPECT_EQ(frame.at("to").at("account"), "bob");
  EXPECT_EQ(frame.at("content").at("text"), "hi");
  EXPECT_EQ(frame.at("route").at("psa"), "psa-sz");
}

TEST(CodecTest, EncodesAnswers) {
  json::value accepted = json::parse(EncodeAccepted("c1", "m1", 5, true));
  EXPECT_EQ(accepted.at("duplicate"), true);
  json::value fresh = json::parse(EncodeAccepted("c1", "m1", 5, false));
  EXPECT_EQ(fresh.as_object().count("duplicate"), 0u);
  json::value rejected =
      json::parse(EncodeRejected("c2", MakeError(ErrorCode::kSenderMismatch, "no")));
  EXPECT_EQ(rejected.at("code"), "sender_mismatch");
  EXPECT_EQ(rejected.at("id"), "c2");
  json::value receipt = json::parse(EncodeReceipt("c3", "m3", "read"));
  EXPECT_EQ(receipt.at("status"), "read");
}

// The encoders append members by hand; they must write what serialising the same DOM writes.
std::string DomMessage(const SessionMessage& m, std::string_view platform_name) {
  json::object frame{{"type", "message"},
                     {"message_id", m.message_id},
                     {"ts", m.ts_ms},
                     {"from", json::object{{"platform", m.from.platform},
                                           {"account", m.from.account},
                                           {"platform_name", platform_name}}},
                     {"to", json::object{{"platform", m.to.platform}, {"account", m.to.account}}},
                     {"route", json::object{{"site", m.route.site},
                                            {"dnai", m.route.dnai},
                                            {"ulcl", m.route.ulcl},
                                            {"psa", m.route.psa}}},
                     {"content", json::parse(m.content_json)}};
  return json::serialize(frame);
}

TEST(CodecTest, EncodedFramesEqualTheirDomSerialisationByteForByte) {
  const std::string awkward = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f \xc3\xa9 \xe2\x82\xac end";
  SessionMessage message;
  message.message_id = "0194f1c2a3b40000";
  message.ts_ms = 1767225600123;
  message.from = {"meta", "al" + awkward};
  message.to = {"shop", "bob"};
  message.content_json = json::serialize(json::object{{"type", "text"}, {"text", awkward}});
  message.route = {"edge", "", awkward, "psa"};
  EXPECT_EQ(EncodeMessage(message, "Meta \"World\""), DomMessage(message, "Meta \"World\""));

  EXPECT_EQ(EncodeAccepted(awkward, "m1", -5, true),
            json::serialize(json::object{{"type", "accepted"},
                                         {"id", awkward},
                                         {"message_id", "m1"},
                                         {"ts", -5},
                                         {"duplicate", true}}));
  EXPECT_EQ(EncodeAccepted("c1", "m1", 0, false),
            R"({"type":"accepted","id":"c1","message_id":"m1","ts":0})");
  EXPECT_EQ(
      EncodeReceipt(awkward, "m2", "delivered"),
      json::serialize(json::object{
          {"type", "receipt"}, {"id", awkward}, {"message_id", "m2"}, {"status", "delivered"}}));
  const Error error = MakeError(ErrorCode::kRateLimited, awkward);
  EXPECT_EQ(
      EncodeRejected("c\n", error),
      json::serialize(json::object{
          {"type", "rejected"}, {"id", "c\n"}, {"code", "rate_limited"}, {"message", awkward}}));
  EXPECT_EQ(EncodeError(error),
            json::serialize(
                json::object{{"type", "error"}, {"code", "rate_limited"}, {"message", awkward}}));
}

TEST(CodecTest, EveryByteIsEscapedAsBoostJsonEscapesIt) {
  for (int byte = 0; byte < 256; ++byte) {
    const std::string text = "a" + std::string(1, static_cast<char>(byte)) + "z";
    std::string out = "x";
    AppendJsonString(out, text);
    EXPECT_EQ(out, "x" + json::serialize(json::string(text))) << "byte " << byte;
  }
}

TEST(CodecTest, DecodesFramesLargerThanTheStackArena) {
  const std::string text(20000, 'x');
  std::string many;
  for (int i = 0; i < 2000; ++i)
    many += "1,";
  const std::string frame = R"({"type":"send","id":"big","from":{"platform":"p1","account":"a"},)"
                            R"("to":{"platform":"p2","account":"b"},"content":{"type":"text",)"
                            R"("text":")" +
                            text + R"(","many":[)" + many + "1]}}";
  const ClientFrame decoded = DecodeClientFrame(frame);
  const auto& send = As<SendFrame>(decoded);
  EXPECT_EQ(send.client_id, "big");
  EXPECT_EQ(json::parse(send.content_json).at("text").as_string(), text);
  const auto bad = DecodeClientFrame(frame.substr(0, frame.size() - 1));
  ASSERT_TRUE(std::holds_alternative<FrameError>(bad));
  EXPECT_EQ(std::get<FrameError>(bad).error.code, ErrorCode::kBadFrame);
}

std::string SendWith(std::string_view id_member, std::string_view from, std::string_view content) {
  return R"({"type":"send",)" + std::string(id_member) + R"(,"from":)" + std::string(from) +
         R"(,"to":{"platform":"p2","account":"b"},"content":)" + std::string(content) + "}";
}

const FrameError& AsError(const ClientFrame& frame) {
  static const FrameError none{};
  const auto* error = std::get_if<FrameError>(&frame);
  if (error == nullptr) ADD_FAILURE() << "expected a FrameError";
  return error != nullptr ? *error : none;
}

// The decoder reads frames in one pass without a DOM; what it hands on must equal what the DOM
// gave: content serialised as json::serialize writes it, last duplicate wins, same refusals.
TEST(CodecTest, ContentIsReserialisedAsTheDomWouldWriteIt) {
  std::string long_text;
  for (int i = 0; i < 3000; ++i)
    long_text += "ab\\n\\u00e9\\\"";
  const std::string contents[] = {
      R"({"type":"text","text":"hi"})",
      R"( { "type" : "app" , "app":"x.y", "n":[1,-2,3.5,1e2,-0,1.0E-7,true,false,null,{"a":{}},[]],)"
      R"("s":"\u00e9\/\n\u0001","k\u0065y":"v","big":12345678901234567890,)"
      R"("neg":-9223372036854775808})",
      R"({"type":"text","text":")" + long_text + R"(","deep":[[[[{"x":[{}]}]]]]})",
      R"({"type":"text","type":"text","text":1,"text":"last wins"})",
  };
  for (const std::string& content : contents) {
    const ClientFrame frame =
        DecodeClientFrame(SendWith(R"("id":"c")", R"({"platform":"p1","account":"a"})", content));
    EXPECT_EQ(As<SendFrame>(frame).content_json, json::serialize(json::parse(content))) << content;
  }
}

TEST(CodecTest, LastDuplicateMemberWinsAsInTheDom) {
  const std::string address = R"({"platform":"p1","account":"a"})";
  const std::string text = R"({"type":"text","text":"hi"})";
  const ClientFrame two_ids =
      DecodeClientFrame(SendWith(R"("id":"first","id":"a\"b")", address, text));
  EXPECT_EQ(As<SendFrame>(two_ids).client_id, "a\"b");

  const ClientFrame from_replaced =
      DecodeClientFrame(SendWith(R"("id":"c")", address + R"(,"from":[1])", text));
  EXPECT_EQ(AsError(from_replaced).client_id, "c");
  EXPECT_EQ(AsError(from_replaced).error.message,
            "send needs 'from' and 'to', each {platform, account} strings");

  const ClientFrame content_replaced =
      DecodeClientFrame(SendWith(R"("id":"c")", address, text + R"(,"content":"text")"));
  EXPECT_EQ(AsError(content_replaced).error.message, "send needs a 'content' object");

  const ClientFrame nested = DecodeClientFrame(SendWith(
      R"("id":"c")", R"({"platform":"p1","x":{"platform":"no"},"account":"a","y":["account"]})",
      R"({"type":"app","app":"a.b","inner":{"type":"text"}})"));
  EXPECT_EQ(As<SendFrame>(nested).from, (Address{"p1", "a"}));
  EXPECT_EQ(As<SendFrame>(nested).app, "a.b");
}

TEST(CodecTest, RefusesWhatTheDomRefused) {
  EXPECT_EQ(AsError(DecodeClientFrame(R"([{"type":"ack","message_id":"m"}])")).error.message,
            "a frame must be a JSON object");
  EXPECT_EQ(AsError(DecodeClientFrame(R"({"type":"ack","message_id":"m"} x)")).error.message,
            "the frame is not valid JSON: " + json::error_code(json::error::extra_data).message());
  EXPECT_EQ(AsError(DecodeClientFrame(R"({"type":"ack","message_id":{"id":"m"}})")).error.message,
            "ack needs a string 'message_id'");
  EXPECT_EQ(AsError(DecodeClientFrame(R"({"content":{"type":"send"}})")).error.message,
            "a frame needs a string 'type'");
  EXPECT_EQ(AsError(DecodeClientFrame(R"({"type":["send"]})")).error.message,
            "a frame needs a string 'type'");
  EXPECT_EQ(As<HelloFrame>(DecodeClientFrame(R"({"type":"hello","token":"t","device":7})")).device,
            "default");
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  EXPECT_EQ(AsError(DecodeClientFrame(deep)).error.code, ErrorCode::kBadFrame);
  EXPECT_EQ(AsError(DecodeClientFrame(std::string_view("{\"type\":\"a\xff\"}", 13))).error.code,
            ErrorCode::kBadFrame);
}

// --- Client side ---

template <typename T>
const T& AsExchange(const ExchangeFrame& frame) {
  const T* value = std::get_if<T>(&frame);
  if (value == nullptr) {
    const auto* error = std::get_if<FrameError>(&frame);
    ADD_FAILURE() << "unexpected frame kind" << (error ? ": " + error->error.message : "");
    static T empty{};
    return empty;
  }
  return *value;
}

TEST(CodecClientTest, DecodesWelcome) {
  auto frame = DecodeExchangeFrame(EncodeWelcome("meta", "Meta World", "alice", "42"));
  const auto& welcome = AsExchange<WelcomeFrame>(frame);
  EXPECT_EQ(welcome.platform_id, "meta");
  EXPECT_EQ(welcome.platform_name, "Meta World");
  EXPECT_EQ(welcome.account, "alice");
  EXPECT_EQ(welcome.session, "42");
}

TEST(CodecClientTest, DecodesAcceptedWithAndWithoutDuplicate) {
  const auto fresh_frame = DecodeExchangeFrame(EncodeAccepted("c1", "m1", 5, false));
  const auto& fresh = AsExchange<AcceptedFrame>(fresh_frame);
  EXPECT_EQ(fresh.client_id, "c1");
  EXPECT_EQ(fresh.message_id, "m1");
  EXPECT_EQ(fresh.ts_ms, 5);
  EXPECT_FALSE(fresh.duplicate);
  auto repeated = DecodeExchangeFrame(EncodeAccepted("c1", "m1", 1700000000123, true));
  EXPECT_TRUE(AsExchange<AcceptedFrame>(repeated).duplicate);
  EXPECT_EQ(AsExchange<AcceptedFrame>(repeated).ts_ms, 1700000000123);
}

TEST(CodecClientTest, DecodesRejectedAndErrorKeepingTheWireCode) {
  auto rejected = DecodeExchangeFrame(
      EncodeRejected("c2", MakeError(ErrorCode::kRecipientNotRegistered, "who?")));
  EXPECT_EQ(AsExchange<RejectedFrame>(rejected).client_id, "c2");
  EXPECT_EQ(AsExchange<RejectedFrame>(rejected).error.code, "recipient_not_registered");
  EXPECT_EQ(AsExchange<RejectedFrame>(rejected).error.message, "who?");

  auto error = DecodeExchangeFrame(EncodeError(MakeError(ErrorCode::kTooLarge, "big")));
  EXPECT_EQ(AsExchange<ErrorFrame>(error).error.code, "too_large");

  auto future = DecodeExchangeFrame(R"({"type":"error","code":"brand_new_code"})");
  EXPECT_EQ(AsExchange<ErrorFrame>(future).error.code, "brand_new_code");
}

TEST(CodecClientTest, MapsEveryCodeNameBack) {
  for (ErrorCode code :
       {ErrorCode::kUnauthenticated, ErrorCode::kRateLimited, ErrorCode::kRecipientQueueFull,
        ErrorCode::kUnavailable, ErrorCode::kInternal}) {
    EXPECT_EQ(ErrorCodeFromName(ErrorCodeName(code)), code);
  }
  EXPECT_EQ(ErrorCodeFromName("no_such_code"), std::nullopt);
}

TEST(CodecClientTest, DecodesMessageProducedByTheServerEncoder) {
  SessionMessage message;
  message.message_id = "00ff";
  message.ts_ms = 1234;
  message.from = {"meta", "alice"};
  message.to = {"shop", "bob"};
  message.content_json = R"({"type":"text","text":"hi"})";
  message.route = {"edge-sz", "dnai-sz", "ulcl-sz", "psa-sz"};

  auto frame = DecodeExchangeFrame(EncodeMessage(message, "Meta World"));
  const auto& decoded = AsExchange<MessageFrame>(frame);
  EXPECT_EQ(decoded.message_id, "00ff");
  EXPECT_EQ(decoded.ts_ms, 1234);
  EXPECT_EQ(decoded.from, (Address{"meta", "alice"}));
  EXPECT_EQ(decoded.from_platform_name, "Meta World");
  EXPECT_EQ(decoded.to, (Address{"shop", "bob"}));
  EXPECT_EQ(decoded.app, "chat");
  EXPECT_EQ(json::parse(decoded.content_json), json::parse(message.content_json));
  EXPECT_EQ(decoded.route, message.route);
}

TEST(CodecClientTest, DecodesReceipts) {
  auto delivered = DecodeExchangeFrame(EncodeReceipt("c3", "m3", "delivered"));
  EXPECT_EQ(AsExchange<ReceiptFrame>(delivered).status, ReceiptStatus::kDelivered);
  EXPECT_EQ(AsExchange<ReceiptFrame>(delivered).client_id, "c3");
  auto read = DecodeExchangeFrame(EncodeReceipt("c3", "m3", "read"));
  EXPECT_EQ(AsExchange<ReceiptFrame>(read).status, ReceiptStatus::kRead);
  EXPECT_EQ(AsExchange<ReceiptFrame>(read).message_id, "m3");
}

TEST(CodecClientTest, UnknownFrameTypesAreNotErrors) {
  auto frame = DecodeExchangeFrame(R"({"type":"weather","sunny":true})");
  EXPECT_EQ(AsExchange<UnknownFrame>(frame).type, "weather");
}

TEST(CodecClientTest, RefusesMalformedExchangeFrames) {
  for (
      const char* text :
      {"", "nope", "[]", R"({"type":1})", R"({"type":"welcome","account":"a"})",
       R"({"type":"accepted","id":"c","message_id":"m"})",
       R"({"type":"accepted","id":"c","message_id":"m","ts":"soon"})",
       R"({"type":"rejected","id":"c"})", R"({"type":"error"})",
       R"({"type":"receipt","id":"c","message_id":"m","status":"lost"})",
       R"({"type":"message","message_id":"m","ts":1,"from":{"platform":"a","account":"x"},"to":{"platform":"b","account":"y"}})",
       R"({"type":"message","message_id":"m","ts":1,"from":{"platform":"a"},"to":{"platform":"b","account":"y"},"content":{"type":"text","text":"x"}})",
       R"({"type":"message","message_id":"m","ts":1,"from":{"platform":"a","account":"x"},"to":{"platform":"b","account":"y"},"content":{"type":"video"}})"}) {
    auto frame = DecodeExchangeFrame(text);
    const auto* error = std::get_if<FrameError>(&frame);
    ASSERT_NE(error, nullptr) << text;
    EXPECT_EQ(error->error.code, ErrorCode::kBadFrame) << text;
  }
}

TEST(CodecClientTest, TerminalFramesRoundTripThroughTheServerDecoder) {
  auto hello = DecodeClientFrame(EncodeHello(HelloFrame{"tok.en.x", "phone-1"}));
  EXPECT_EQ(As<HelloFrame>(hello).token, "tok.en.x");
  EXPECT_EQ(As<HelloFrame>(hello).device, "phone-1");

  SendFrame send{"c7", {"meta", "alice"}, {"shop", "bob"}, TextContent("hi \"there\"\n"), "chat"};
  auto decoded = DecodeClientFrame(EncodeSend(send));
  const auto& sent = As<SendFrame>(decoded);
  EXPECT_EQ(sent.client_id, "c7");
  EXPECT_EQ(sent.from, send.from);
  EXPECT_EQ(sent.to, send.to);
  EXPECT_EQ(sent.app, "chat");
  EXPECT_EQ(json::parse(sent.content_json).at("text"), "hi \"there\"\n");

  EXPECT_EQ(As<AckFrame>(DecodeClientFrame(EncodeAck(AckFrame{"m1"}))).message_id, "m1");
  EXPECT_EQ(As<ReadFrame>(DecodeClientFrame(EncodeRead(ReadFrame{"m2"}))).message_id, "m2");
  auto location = DecodeClientFrame(EncodeLocation(LocationFrame{"tai-1", "cell-9"}));
  EXPECT_EQ(As<LocationFrame>(location).tai, "tai-1");
  EXPECT_EQ(As<LocationFrame>(location).cell, "cell-9");
}

TEST(CodecClientTest, EncodesAppContentAsGiven) {
  SendFrame send{
      "c8", {"a1", "x"}, {"b1", "y"}, R"({"type":"app","app":"vr.pose","q":[1,2]})", "vr.pose"};
  auto decoded = DecodeClientFrame(EncodeSend(send));
  EXPECT_EQ(As<SendFrame>(decoded).app, "vr.pose");
}

TEST(CodecClientTest, ContentTextReadsOnlyTextContent) {
  EXPECT_EQ(ContentText(TextContent("hello")), "hello");
  EXPECT_EQ(ContentText(R"({"type":"app","app":"x","text":"no"})"), std::nullopt);
  EXPECT_EQ(ContentText("not json"), std::nullopt);
}

}  // namespace
}  // namespace sb::api
