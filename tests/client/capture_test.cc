// R-CLI-CAP-1: capture sources, frame ranges and timestamps.
#include "client/capture.h"

#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "support/test_data.h"

namespace livegate::client {
namespace {

const char* kClip = "2_face_video/sadtalker/sadtalker_WDA_AlexandriaOcasioCortez_000.mp4";  // 25 fps, 200 frames

TEST(CaptureTest, VideoSegmentHasRangeAndTimestamps) {
  LG_REQUIRE_TEST_DATA(kClip);
  CaptureOptions o;
  o.kind = CaptureOptions::Kind::kVideoFile;
  o.path = testing::TestDataDir() / kClip;
  o.start_frame = 50;
  o.end_frame = 60;
  auto source = FrameSource::Open(o);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_FALSE((*source)->live());
  std::vector<CapturedFrame> frames;
  while (true) {
    auto f = (*source)->Next();
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    if (!f->has_value()) break;
    frames.push_back(std::move(**f));
  }
  ASSERT_EQ(frames.size(), 10u);
  EXPECT_EQ(frames.front().index, 50);
  EXPECT_EQ(frames.back().index, 59);
  EXPECT_DOUBLE_EQ(frames.front().timestamp_ms, 0.0);
  EXPECT_NEAR(frames.back().timestamp_ms, 9 * 40.0, 1.0);  // 25 fps
  EXPECT_EQ(frames.front().bgr.cols, 512);
  EXPECT_EQ(frames.front().bgr.type(), CV_8UC3);
}

TEST(CaptureTest, MaxFramesBoundsDelivery) {
  LG_REQUIRE_TEST_DATA(kClip);
  CaptureOptions o;
  o.path = testing::TestDataDir() / kClip;
  o.max_frames = 3;
  auto source = FrameSource::Open(o);
  ASSERT_TRUE(source.ok());
  int n = 0;
  while (true) {
    auto f = (*source)->Next();
    ASSERT_TRUE(f.ok());
    if (!f->has_value()) break;
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(CaptureTest, ImageSequenceFolderInNameOrderWithFpsTimestamps) {
  const auto dir = testing::MakeTempDir("lg-capture");
  for (int i = 0; i < 4; ++i) {
    cv::Mat img(40, 60, CV_8UC3, cv::Scalar(i * 50, 10, 10));
    ASSERT_TRUE(cv::imwrite((dir / ("frame_" + std::to_string(i) + ".png")).string(), img));
  }
  std::ofstream(dir / "notes.txt") << "not an image";
  CaptureOptions o;
  o.kind = CaptureOptions::Kind::kImageSequence;
  o.path = dir;
  o.image_sequence_fps = 10;
  o.start_frame = 1;
  auto source = FrameSource::Open(o);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  std::vector<CapturedFrame> frames;
  while (true) {
    auto f = (*source)->Next();
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    if (!f->has_value()) break;
    frames.push_back(std::move(**f));
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].index, 1);
  EXPECT_DOUBLE_EQ(frames[0].timestamp_ms, 0.0);
  EXPECT_DOUBLE_EQ(frames[2].timestamp_ms, 200.0);
  EXPECT_EQ(frames[2].bgr.at<cv::Vec3b>(0, 0)[0], 150);
  std::filesystem::remove_all(dir);
}

TEST(CaptureTest, CorruptImageInSequenceIsASpecificError) {
  const auto dir = testing::MakeTempDir("lg-capture-bad");
  std::ofstream(dir / "a.jpg") << "this is not a jpeg";
  CaptureOptions o;
  o.kind = CaptureOptions::Kind::kImageSequence;
  o.path = dir;
  auto source = FrameSource::Open(o);
  ASSERT_TRUE(source.ok());
  auto f = (*source)->Next();
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().reason().rfind("image.", 0), 0u) << f.status().ToString();
  std::filesystem::remove_all(dir);
}

TEST(CaptureTest, BadInputsHaveSpecificReasons) {
  CaptureOptions o;
  o.path = "/nonexistent/clip.mp4";
  EXPECT_EQ(FrameSource::Open(o).status().reason(), "capture.unreadable_file");

  const auto dir = testing::MakeTempDir("lg-capture-empty");
  o.kind = CaptureOptions::Kind::kImageSequence;
  o.path = dir;
  EXPECT_EQ(FrameSource::Open(o).status().reason(), "capture.no_images");

  std::ofstream(dir / "fake.mp4") << "definitely not a video container";
  o.kind = CaptureOptions::Kind::kVideoFile;
  o.path = dir / "fake.mp4";
  auto bad = FrameSource::Open(o);
  if (bad.ok()) {  // some FFmpeg builds open anything and fail on the first read
    auto f = (*bad)->Next();
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().reason(), "capture.cannot_decode");
  } else {
    EXPECT_EQ(bad.status().reason(), "capture.cannot_decode");
  }

  o.start_frame = 10;
  o.end_frame = 5;
  EXPECT_EQ(FrameSource::Open(o).status().reason(), "capture.bad_range");

  o = {};
  o.kind = CaptureOptions::Kind::kCamera;
  o.camera_index = 97;
  EXPECT_EQ(FrameSource::Open(o).status().reason(), "capture.camera_unavailable");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace livegate::client
