// The capture's "display" report (src/protocol/messages.*, docs/API.md):
// round trip, absent by default, and strict refusals of hostile input -
// count bound, colour spelling, order, unknown fields, wrong types.
#include <gtest/gtest.h>

#include "protocol/messages.h"

namespace livegate::protocol {
namespace {

CaptureSubmission Base() {
  CaptureSubmission c;
  c.challenge_id = "abc";
  c.session_nonce = crypto::Bytes(16, 7);
  c.frames = {{0, {0xFF, 0xD8, 0xFF, 1}}, {100, {0xFF, 0xD8, 0xFF, 2}}};
  return c;
}

// The capture JSON with `display` replaced by the raw text given.
std::string WithDisplay(const std::string& display) {
  std::string j = ToJson(Base());
  return j.substr(0, j.size() - 1) + R"(,"display":)" + display + "}";
}

std::string ReasonOf(const std::string& json, const MessageLimits& l = {}) {
  auto r = ParseCaptureSubmission(json, l);
  return r.ok() ? "ok" : r.status().reason();
}

TEST(DisplayMessageTest, RoundTripAndAbsentByDefault) {
  CaptureSubmission c = Base();
  EXPECT_EQ(ToJson(c).find("display"), std::string::npos);  // non-light packages carry none
  auto plain = ParseCaptureSubmission(ToJson(c));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->display);
  c.display = std::vector<DisplayChangeMessage>{{0, "#ff0000"}, {603, "#00ff00"}, {1204, "none"}};
  auto back = ParseCaptureSubmission(ToJson(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->display);
  EXPECT_EQ(*back->display, *c.display);
  // An empty report is a report (the server decides it is incomplete).
  c.display = std::vector<DisplayChangeMessage>{};
  back = ParseCaptureSubmission(ToJson(c));
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->display);
  EXPECT_TRUE(back->display->empty());
}

TEST(DisplayMessageTest, CountIsBounded) {
  std::string many = "[";
  for (int i = 0; i < 65; ++i) many += (i ? "," : "") + std::string(R"({"t_ms":)") + std::to_string(i) + R"(,"rgb":"none"})";
  many += "]";
  EXPECT_EQ(ReasonOf(WithDisplay(many)), "codec.too_many_items");
  MessageLimits l;
  l.max_display_changes = 65;
  EXPECT_EQ(ReasonOf(WithDisplay(many), l), "ok");
  l.max_display_changes = 2;
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":0,"rgb":"none"},{"t_ms":1,"rgb":"none"},{"t_ms":2,"rgb":"none"}])"), l),
            "codec.too_many_items");
}

TEST(DisplayMessageTest, ColoursAreSpelledOneWay) {
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":0,"rgb":"#00ff7f"}])")), "ok");
  for (const char* bad : {"#FF0000", "#ff000", "ff0000x", "#gg0000", "blue", "NONE", "#ff00 0"}) {
    EXPECT_EQ(ReasonOf(WithDisplay(std::string(R"([{"t_ms":0,"rgb":")") + bad + R"("}])")), "display.bad_colour") << bad;
  }
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":0,"rgb":"#ff00000"}])")), "codec.string_length");
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":0,"rgb":""}])")), "codec.string_length");
}

TEST(DisplayMessageTest, TimesStrictlyIncreasingAndBounded) {
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":5,"rgb":"none"},{"t_ms":5,"rgb":"#ff0000"}])")), "display.not_in_order");
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":9,"rgb":"none"},{"t_ms":5,"rgb":"#ff0000"}])")), "display.not_in_order");
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":1e300,"rgb":"none"}])")), "codec.wrong_type");
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":1125899906842625,"rgb":"none"}])")), "codec.out_of_range");
}

TEST(DisplayMessageTest, StrictShape) {
  EXPECT_EQ(ReasonOf(WithDisplay(R"({"t_ms":0,"rgb":"none"})")), "codec.wrong_type");
  EXPECT_EQ(ReasonOf(WithDisplay(R"(["none"])")), "codec.wrong_type");
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":0}])")), "codec.missing_field");
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":0,"rgb":"none","frame":3}])")), "codec.unknown_field");
  EXPECT_EQ(ReasonOf(WithDisplay(R"([{"t_ms":"0","rgb":"none"}])")), "codec.wrong_type");
  EXPECT_EQ(ReasonOf(WithDisplay("null")), "codec.missing_field");  // null is no report
}

}  // namespace
}  // namespace livegate::protocol
