// The trace parser: a good trace, and each kind of bad line refused with its line number.
#include "sim/trace.h"

#include <gtest/gtest.h>

namespace sb::sim {
namespace {

constexpr const char* kHeader = "t_ms,event,platform,account,tai,cell,to_platform,to_account,app\n";

std::string ErrorOf(const std::string& body) {
  auto parsed = ParseTrace(kHeader + body);
  return parsed ? std::string("(parsed)") : parsed.error().message;
}

TEST(TraceTest, ReadsMovesAndSends) {
  auto parsed = ParseTrace(std::string(kHeader) +
                           "0,move,meta,alice,460-00-001a01,460-00-001a01001,,,\r\n"
                           "15,send,meta,alice,460-00-001a01,,shop,bob,ar-scene\n"
                           "15,send,meta,alice,460-00-001a01,,shop,bob,\n"
                           "\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const auto& events = parsed.value();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, EventKind::kMove);
  EXPECT_EQ(events[0].cell, "460-00-001a01001");
  EXPECT_EQ(events[0].line, 2u);
  EXPECT_EQ(events[1].kind, EventKind::kSend);
  EXPECT_EQ(events[1].t_ms, 15);
  EXPECT_EQ(events[1].to, (Address{"shop", "bob"}));
  EXPECT_EQ(events[1].app, "ar-scene");
  EXPECT_EQ(events[2].app, "chat");
}

TEST(TraceTest, RefusesAWrongHeader) {
  auto parsed = ParseTrace("time,event\n0,move,meta,alice,t,,,,\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("line 1:"), std::string::npos);
  EXPECT_FALSE(ParseTrace("").ok());
}

TEST(TraceTest, RefusesBadLinesNamingThem) {
  const std::string good = "0,move,meta,alice,460-00-001a01,,,,\n";
  EXPECT_EQ(ErrorOf(good + "5,move,meta,alice,460-00-001a01,,,\n"),
            "line 3: expected 9 columns, found 8");
  EXPECT_EQ(ErrorOf(good + "x,move,meta,alice,460-00-001a01,,,,\n"),
            "line 3: t_ms 'x' is not a non-negative integer");
  EXPECT_EQ(ErrorOf("-1,move,meta,alice,460-00-001a01,,,,\n"),
            "line 2: t_ms '-1' is not a non-negative integer");
  EXPECT_EQ(ErrorOf("9,move,meta,alice,t,,,,\n3,move,meta,alice,t,,,,\n"),
            "line 3: t_ms 3 goes back in time");
  EXPECT_EQ(ErrorOf(good + good + "7,jump,meta,alice,t,,,,\n"),
            "line 4: event 'jump' is neither move nor send");
  EXPECT_EQ(ErrorOf("0,move,meta,alice,,,,,\n"), "line 2: a move needs a tai");
  EXPECT_EQ(ErrorOf("0,move,,alice,t,,,,\n"), "line 2: platform and account are required");
  EXPECT_EQ(ErrorOf("0,send,meta,alice,t,,shop,,chat\n"),
            "line 2: a send needs to_platform and to_account");
}

}  // namespace
}  // namespace sb::sim
