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

}  // namespace
}  // namespace sb::api
