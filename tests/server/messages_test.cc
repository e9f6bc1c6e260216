// Flow messages (src/protocol/messages.*): round trips and strict refusals.
#include "protocol/messages.h"

#include <gtest/gtest.h>

namespace livegate::protocol {
namespace {

TEST(MessagesTest, StartRoundTripAndDeviceRule) {
  StartFlowRequest s{FlowType::kAuthentication, "alice", "phone-1"};
  auto back = ParseStartFlowRequest(ToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->flow, FlowType::kAuthentication);
  EXPECT_EQ(back->account_id, "alice");
  EXPECT_EQ(back->device_id, "phone-1");
  auto missing = ParseStartFlowRequest(R"({"flow":"authentication","account_id":"alice"})");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().reason(), "codec.missing_field");
  auto der = ParseStartFlowRequest(R"({"flow":"deregistration","account_id":"alice"})");
  EXPECT_TRUE(der.ok());
  auto bad = ParseStartFlowRequest(R"({"flow":"registration","account_id":"al ice","device_id":"d"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "message.bad_id");
}

TEST(MessagesTest, CaptureRoundTripAndLimits) {
  CaptureSubmission c;
  c.challenge_id = "abc";
  c.session_nonce = crypto::Bytes(16, 7);
  // Frames start with the JPEG magic bytes (anything else is refused).
  c.frames = {{0, {0xFF, 0xD8, 0xFF, 1, 2, 3}}, {66, {0xFF, 0xD8, 0xFF, 4, 5}}};
  c.client.live = true;
  c.client.quality = 0.5;
  c.client.best_frame = 1;
  c.client.actions_detected = {"blink"};
  c.device_credential = DeviceCredential{"modp/srp/3072", "SHA-256", crypto::Bytes(32, 1), crypto::Bytes(384, 2)};
  auto back = ParseCaptureSubmission(ToJson(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->frames.size(), 2u);
  EXPECT_EQ(back->frames[1].timestamp_ms, 66);
  EXPECT_EQ(back->frames[1].jpeg, (crypto::Bytes{0xFF, 0xD8, 0xFF, 4, 5}));
  ASSERT_TRUE(back->device_credential);
  EXPECT_EQ(back->device_credential->verifier.size(), 384u);
  MessageLimits l;
  l.max_frames = 1;
  auto many = ParseCaptureSubmission(ToJson(c), l);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().reason(), "codec.too_many_items");
  l = MessageLimits{};
  l.max_frame_bytes = 5;
  auto big = ParseCaptureSubmission(ToJson(c), l);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().reason(), "codec.field_too_large");
  // Issue 12, finding 8: a frame that is not a JPEG (here a BMP) is refused
  // on its magic bytes.
  CaptureSubmission bmp = c;
  bmp.frames[1].jpeg = {'B', 'M', 0x36, 0, 0, 0};
  auto not_jpeg = ParseCaptureSubmission(ToJson(bmp));
  ASSERT_FALSE(not_jpeg.ok());
  EXPECT_EQ(not_jpeg.status().reason(), "image.format_not_allowed");
  EXPECT_NE(not_jpeg.status().message().find("capture.frames[1].jpeg is not a JPEG"), std::string::npos);
  c.device_credential.reset();
  auto no_cred = ParseCaptureSubmission(ToJson(c));
  ASSERT_TRUE(no_cred.ok());
  EXPECT_FALSE(no_cred->device_credential);
}

TEST(MessagesTest, ResultWithNextProcedure) {
  Procedure p;
  p.biometric_type = "face";
  p.asd_type = "actions";
  p.tier = "medium";
  p.reasons = {"risk.new_device", "tier.medium"};
  p.challenge = nlohmann::json{{"id", "x"}, {"steps", nlohmann::json::array()}};
  p.session_nonce = crypto::Bytes(16, 9);
  p.recaptures_left = 2;
  FlowResult r{"recapture", {"quality.no_face"}, "try again", p};
  auto back = ParseFlowResult(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->outcome, "recapture");
  ASSERT_TRUE(back->next);
  EXPECT_EQ(back->next->recaptures_left, 2);
  EXPECT_EQ(back->next->reasons, p.reasons);
  auto unknown = ParseFlowResult(R"({"outcome":"maybe","reasons":[],"message":""})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().reason(), "codec.bad_enum");
}

}  // namespace
}  // namespace livegate::protocol
