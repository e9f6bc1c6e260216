// Decisions 11.4/11.8, R-SEC-COM-5, R-CLI-QD-1/2: the capture package holds
// only bounded face crops as metadata-free JPEG, bounded in count, with timestamps.
#include "client/package.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace livegate::client {
namespace {

cv::Mat Textured(int w, int h, int seed) {
  cv::Mat img(h, w, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(img, cv::RNG::UNIFORM, 60, 200);
  return img;
}

// JPEG markers present in a byte stream (APPn = 0xE0..0xEF, COM = 0xFE).
std::vector<int> MarkersBeforeScan(const std::vector<std::uint8_t>& jpeg) {
  std::vector<int> markers;
  std::size_t i = 2;  // after SOI
  while (i + 4 <= jpeg.size() && jpeg[i] == 0xFF) {
    const int marker = jpeg[i + 1];
    markers.push_back(marker);
    if (marker == 0xDA) break;  // start of scan
    const int len = (jpeg[i + 2] << 8) | jpeg[i + 3];
    i += 2 + len;
  }
  return markers;
}

// R-SEC-COM-5 (desensitised, decision 11.8): face crops only, bounded, no metadata.
TEST(PackageTest, CropsAreFaceRegionBoundedAndMetadataFree) {
  const cv::Mat frame = Textured(1920, 1080, 1);
  const cv::Rect2f face(800, 300, 400, 500);
  auto pkg = BuildCapturePackage({{frame, face, 0, 0.5}});
  ASSERT_TRUE(pkg.ok()) << pkg.status().ToString();
  ASSERT_EQ(pkg->frames.size(), 1u);
  const auto& f = pkg->frames[0];
  // Crop = face + 50% margin each side = 800x1000, scaled to the 480 bound.
  EXPECT_EQ(FaceCropRect(face, frame.size(), 0.5), cv::Rect(600, 50, 800, 1000));
  EXPECT_EQ(f.width, 384);
  EXPECT_EQ(f.height, 480);
  const cv::Mat decoded = cv::imdecode(f.jpeg, cv::IMREAD_UNCHANGED);
  EXPECT_EQ(decoded.cols, 384);
  EXPECT_EQ(decoded.rows, 480);
  // A face at the border: the margin is clipped to the frame.
  EXPECT_EQ(FaceCropRect(cv::Rect2f(0, 0, 100, 100), cv::Size(320, 240), 0.5), cv::Rect(0, 0, 150, 150));
  ASSERT_GE(f.jpeg.size(), 4u);
  EXPECT_EQ(f.jpeg[0], 0xFF);
  EXPECT_EQ(f.jpeg[1], 0xD8);
  for (int m : MarkersBeforeScan(f.jpeg)) {
    // Only JFIF APP0 is allowed: no EXIF/XMP (APP1), ICC (APP2), other APPn or comments.
    EXPECT_TRUE(m == 0xE0 || (m < 0xE1 || m > 0xEF)) << std::hex << m;
    EXPECT_NE(m, 0xFE);
  }
  EXPECT_EQ(pkg->best_frame, 0);
}

TEST(PackageTest, SmallCropIsNotUpscaled) {
  const cv::Mat frame = Textured(320, 240, 2);
  auto pkg = BuildCapturePackage({{frame, cv::Rect2f(130, 90, 60, 60), 0, 0.5}});
  ASSERT_TRUE(pkg.ok());
  EXPECT_EQ(pkg->frames[0].width, 120);
  EXPECT_EQ(pkg->frames[0].height, 120);
}

TEST(PackageTest, CountBoundedEvenlyOverTimeAndBestFrameKept) {
  std::vector<PackageInput> inputs;
  const cv::Mat frame = Textured(640, 480, 3);
  for (int i = 0; i < 300; ++i) {  // 10 s at 30 fps
    inputs.push_back({frame, cv::Rect2f(240, 160, 160, 160), i * 1000.0 / 30, i == 137 ? 0.9 : 0.3});
  }
  PackageOptions o;
  o.max_frames = 20;
  auto pkg = BuildCapturePackage(inputs, o);
  ASSERT_TRUE(pkg.ok());
  ASSERT_LE(pkg->frames.size(), 20u);
  EXPECT_GE(pkg->frames.size(), 19u);
  EXPECT_DOUBLE_EQ(pkg->frames.front().timestamp_ms, 0.0);
  EXPECT_GT(pkg->frames.back().timestamp_ms, 9500.0);  // the whole challenge is covered
  for (std::size_t i = 1; i < pkg->frames.size(); ++i) {
    EXPECT_GT(pkg->frames[i].timestamp_ms, pkg->frames[i - 1].timestamp_ms);
  }
  ASSERT_GE(pkg->best_frame, 0);
  EXPECT_NEAR(pkg->frames[pkg->best_frame].timestamp_ms, 137 * 1000.0 / 30, 1e-6);
  EXPECT_DOUBLE_EQ(pkg->frames[pkg->best_frame].quality, 0.9);
}

TEST(PackageTest, FramesTooCloseInTimeAreDropped) {
  const cv::Mat frame = Textured(640, 480, 4);
  std::vector<PackageInput> inputs;
  for (int i = 0; i < 10; ++i) inputs.push_back({frame, cv::Rect2f(240, 160, 160, 160), i * 10.0, 0.3});
  auto pkg = BuildCapturePackage(inputs);  // min gap 66 ms: keeps t=0 and t=70
  ASSERT_TRUE(pkg.ok());
  EXPECT_EQ(pkg->frames.size(), 2u);
}

// The display report (issue 15): none unless recorded (the package of a
// challenge without colours carries no "display"); checked when recorded.
TEST(PackageTest, DisplayAbsentByDefaultCheckedWhenRecorded) {
  const cv::Mat frame = Textured(320, 240, 5);
  auto p = BuildCapturePackage({{frame, cv::Rect2f(100, 60, 100, 100), 0, 0.5}, {frame, cv::Rect2f(100, 60, 100, 100), 100, 0.5}});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->display.empty());
  EXPECT_TRUE(SetPackageDisplay(*p, {{0, "#ff0000"}, {600.4, "#00ff00"}, {1200, "none"}}).ok());
  ASSERT_EQ(p->display.size(), 3u);
  EXPECT_EQ(p->display[2].rgb, "none");
  auto reason = [&](std::vector<DisplayChange> d, std::size_t max = 64) {
    auto st = SetPackageDisplay(*p, std::move(d), max);
    return st.ok() ? std::string("ok") : st.reason();
  };
  EXPECT_EQ(reason({{0, "#FF0000"}}), "package.bad_display");
  EXPECT_EQ(reason({{0, "red"}}), "package.bad_display");
  EXPECT_EQ(reason({{10, "#ff0000"}, {10.2, "none"}}), "package.bad_display");
  EXPECT_EQ(reason({{0, "none"}, {1, "none"}, {2, "none"}}, 2), "package.bad_display");
  EXPECT_EQ(p->display.size(), 3u);  // a refused report leaves the recorded one
}

// Issue 13: every camera frame of a blink window is kept (down to 30 ms
// apart), ~15 fps elsewhere, and over max_frames the frames outside the
// window are thinned first.
TEST(PackageTest, BlinkWindowKeepsCameraRateAndIsThinnedLast) {
  const cv::Mat frame = Textured(320, 240, 5);
  std::vector<PackageInput> inputs;
  for (int i = 0; i < 300; ++i) inputs.push_back({frame, cv::Rect2f(120, 80, 80, 80), i * 1000.0 / 30, 0.3});
  PackageOptions o;
  o.dense_windows = {{3000, 5000}};
  o.max_frames = 0;  // no bound: the rate rule alone
  auto pkg = BuildCapturePackage(inputs, o);
  ASSERT_TRUE(pkg.ok());
  int in_window = 0;
  for (const auto& f : pkg->frames) in_window += f.timestamp_ms >= 3000 && f.timestamp_ms <= 5000;
  EXPECT_EQ(in_window, 61);  // 2 s at 30 fps, both ends
  EXPECT_NEAR(static_cast<int>(pkg->frames.size()) - in_window, 8 * 15, 4);  // 8 s at 15 fps
  o.max_frames = 100;
  pkg = BuildCapturePackage(inputs, o);
  ASSERT_TRUE(pkg.ok());
  EXPECT_LE(pkg->frames.size(), 100u);
  in_window = 0;
  for (const auto& f : pkg->frames) in_window += f.timestamp_ms >= 3000 && f.timestamp_ms <= 5000;
  EXPECT_EQ(in_window, 61);  // the window is untouched
  EXPECT_DOUBLE_EQ(pkg->frames.front().timestamp_ms, 0.0);
  EXPECT_GT(pkg->frames.back().timestamp_ms, 9500.0);
}

TEST(PackageTest, ErrorsAreSpecific) {
  EXPECT_EQ(BuildCapturePackage({}).status().reason(), "package.empty");
  const cv::Mat frame = Textured(320, 240, 5);
  EXPECT_EQ(BuildCapturePackage({{frame, cv::Rect2f(1000, 1000, 50, 50), 0, 0}}).status().reason(),
            "package.face_outside_frame");
}

TEST(PackageTest, QualityPrefersSharpWellExposedFaces) {
  const cv::Mat sharp = Textured(640, 480, 6);
  cv::Mat blurred;
  cv::GaussianBlur(sharp, blurred, cv::Size(0, 0), 6);
  cv::Mat dark = sharp * 0.15;
  const cv::Rect2f face(200, 120, 200, 200);
  const double q_sharp = ScoreFrameQuality(sharp, face);
  EXPECT_GT(q_sharp, ScoreFrameQuality(blurred, face) + 0.2);
  EXPECT_GT(q_sharp, ScoreFrameQuality(dark, face));
  EXPECT_EQ(ScoreFrameQuality(sharp, cv::Rect2f(700, 700, 10, 10)), 0.0);
}

}  // namespace
}  // namespace livegate::client
