// Quality judgement (R-SRV-QJ-1..3): ISO/IEC 29794-5-named measures, the
// refusal names what failed, best frames are chosen for comparison.
#include <algorithm>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "judgement/judgement.h"
#include "judgement/measures.h"
#include "judgement/synthetic.h"

namespace livegate::judgement {
namespace {

using testing::MakeObservation;
using testing::SynthFrame;

bool Has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// R-SRV-QJ-1/3: good frames pass, the best go on to comparison.
TEST(QualityTest, GoodFramesAreAcceptedAndTheBestAreChosen) {
  std::vector<FrameObservation> obs;
  for (int i = 0; i < 6; ++i) {
    auto o = MakeObservation(i, 1000 + 66 * i, SynthFrame{float(i * 3), 0, 0.3f, 0.02f}, false);
    obs.push_back(o);
  }
  const auto r = JudgeQuality(obs, Policy());
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.reason, "quality.ok");
  ASSERT_EQ(r.best_frames.size(), 3u);
  EXPECT_EQ(r.best_frames[0], 0);  // most frontal first
  EXPECT_EQ(r.best_frames[1], 1);
  EXPECT_EQ(r.frames.size(), 6u);
  EXPECT_TRUE(r.failed_measures.empty());
}

// R-SRV-QJ-2: below the threshold the capture is refused, naming what to fix.
TEST(QualityTest, RefusalNamesTheFailedMeasures) {
  auto dark = MakeObservation(0, 0, SynthFrame{}, false);
  dark.mean_luma = 12, dark.underexposed = 0.8f;
  auto r = JudgeQuality(std::vector<FrameObservation>{dark}, Policy());
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.reason, "quality.failed");
  EXPECT_TRUE(Has(r.failed_measures, "luminance_mean"));
  EXPECT_TRUE(Has(r.failed_measures, "under_exposure_prevention"));
  EXPECT_FALSE(Has(r.failed_measures, "sharpness"));
  EXPECT_TRUE(r.best_frames.empty());

  auto blown = MakeObservation(0, 0, SynthFrame{}, false);
  blown.mean_luma = 250, blown.overexposed = 0.9f;
  r = JudgeQuality(std::vector<FrameObservation>{blown}, Policy());
  EXPECT_TRUE(Has(r.failed_measures, "over_exposure_prevention"));

  auto turned = MakeObservation(0, 0, SynthFrame{40, 0, 0.05f, 0.5f}, false);
  turned.inter_eye_distance = 12, turned.sharpness = 3;
  r = JudgeQuality(std::vector<FrameObservation>{turned}, Policy());
  for (const char* m : {"head_pose_yaw", "eyes_open", "mouth_closed", "inter_eye_distance", "sharpness"})
    EXPECT_TRUE(Has(r.failed_measures, m)) << m;

  auto half = MakeObservation(0, 0, SynthFrame{}, false);
  half.box_outside_fraction = 0.5f;
  r = JudgeQuality(std::vector<FrameObservation>{half}, Policy());
  EXPECT_EQ(r.failed_measures, std::vector<std::string>{"face_inside_frame"});

  auto crowd = MakeObservation(0, 0, SynthFrame{}, false, 2);
  r = JudgeQuality(std::vector<FrameObservation>{crowd}, Policy());
  EXPECT_EQ(r.failed_measures, std::vector<std::string>{"single_face_present"});
}

TEST(QualityTest, NoFaceOrNoFramesHaveTheirOwnReason) {
  EXPECT_EQ(JudgeQuality({}, Policy()).reason, "quality.no_frames");
  std::vector<FrameObservation> empty(3);
  const auto r = JudgeQuality(empty, Policy());
  EXPECT_EQ(r.reason, "quality.no_face");
  EXPECT_FALSE(r.accepted);
}

TEST(QualityTest, OneGoodFrameAmongBadOnesIsEnoughByDefault) {
  auto bad = MakeObservation(0, 0, SynthFrame{}, false);
  bad.sharpness = 1;
  auto good = MakeObservation(1, 66, SynthFrame{}, false);
  const auto r = JudgeQuality(std::vector<FrameObservation>{bad, good}, Policy());
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.best_frames, std::vector<int>{1});
  Policy strict;
  strict.quality.min_good_frames = 2;
  const auto s = JudgeQuality(std::vector<FrameObservation>{bad, good}, strict);
  EXPECT_FALSE(s.accepted);
  EXPECT_EQ(s.failed_measures, std::vector<std::string>{"sharpness"});
}

// Image measures on real pixels (no model needed).
TEST(ImageMeasuresTest, BlurDarknessBordersAndMoireMoveTheirMeasures) {
  cv::Mat img(480, 640, CV_8UC3, cv::Scalar(90, 110, 140));
  cv::RNG rng(5);
  cv::Mat noise(480, 640, CV_8UC3);
  rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(25));
  img += noise;
  for (int i = 0; i < 40; ++i) cv::circle(img, {rng.uniform(200, 440), rng.uniform(140, 340)}, rng.uniform(3, 15), cv::Scalar::all(rng.uniform(30, 220)), -1);
  const cv::Rect2f box(220, 140, 200, 220);
  auto measure = [&](const cv::Mat& m) {
    FrameObservation o;
    cv::Mat grey;
    cv::cvtColor(m, grey, cv::COLOR_BGR2GRAY);
    MeasureFaceImage(m, grey, box, o);
    return o;
  };
  const auto sharp = measure(img);
  cv::Mat blurred;
  cv::GaussianBlur(img, blurred, cv::Size(0, 0), 4);
  const auto soft = measure(blurred);
  EXPECT_GT(sharp.sharpness, 4 * soft.sharpness);
  const auto dark = measure(img * 0.1);
  EXPECT_LT(dark.mean_luma, 20);
  EXPECT_GT(dark.underexposed, 0.3f);
  const auto bright = measure(img * 3.0);
  EXPECT_GT(bright.overexposed, 0.3f);
  EXPECT_EQ(sharp.border, 0.0f);
  // A phone frame around the face: a dark rectangle's edges on every side.
  cv::Mat framed = blurred.clone();
  cv::rectangle(framed, cv::Rect(150, 60, 340, 380), cv::Scalar(10, 10, 10), 12);
  EXPECT_GE(measure(framed).border, 0.75f);
  // Screen pixel grid: a fine periodic pattern adds a spectral peak.
  cv::Mat grid = blurred.clone();
  for (int y = 0; y < grid.rows; ++y)
    for (int x = 0; x < grid.cols; ++x)
      if ((x % 3) == 0) grid.at<cv::Vec3b>(y, x) *= 0.6;
  EXPECT_GT(measure(grid).moire, soft.moire + 1.0f);
  const Policy policy;
  EXPECT_GE(measure(grid).moire, policy.replay.moire_threshold);
  EXPECT_LT(soft.moire, policy.replay.moire_threshold);
  EXPECT_LT(sharp.moire, policy.replay.moire_threshold);
  // A soft, up-scaled frame (empty top band) with mid-frequency texture and
  // JPEG blocks, as the client sends a talking-head clip: no screen peak.
  cv::Mat small, upscaled;
  cv::resize(img, small, cv::Size(), 0.4, 0.4, cv::INTER_AREA);
  cv::resize(small, upscaled, img.size(), 0, 0, cv::INTER_CUBIC);
  std::vector<std::uint8_t> jpeg;
  cv::imencode(".jpg", upscaled, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  EXPECT_LT(measure(cv::imdecode(jpeg, cv::IMREAD_COLOR)).moire, policy.replay.moire_threshold);
}

// The background colour around the face (R-ASD-4 colour response) is the
// mean of the ring (face box grown by 0.4 width each side, 0.3 height up and
// down, clipped to the image) minus the face box: summed over the strips
// around the face it must equal the direct pixel-by-pixel mean exactly,
// also when the face touches or leaves the image.
TEST(ImageMeasuresTest, RingColourEqualsThePixelMeanAroundTheFace) {
  cv::Mat img(480, 640, CV_8UC3);
  cv::RNG rng(11);
  rng.fill(img, cv::RNG::UNIFORM, cv::Scalar::all(0), cv::Scalar::all(256));
  auto clamp = [&](const cv::Rect2f& r) {
    return cv::Rect(cvFloor(r.x), cvFloor(r.y), cvCeil(r.width), cvCeil(r.height)) & cv::Rect(0, 0, img.cols, img.rows);
  };
  for (const cv::Rect2f box : {cv::Rect2f(220.4f, 140.7f, 200.2f, 219.9f), cv::Rect2f(-30.5f, -20.2f, 180, 200),
                               cv::Rect2f(520.3f, 330.6f, 150, 170), cv::Rect2f(0, 0, 640, 480)}) {
    FrameObservation o;
    cv::Mat grey;
    cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
    MeasureFaceImage(img, grey, box, o, false);
    const cv::Rect ring = clamp({box.x - box.width * 0.4f, box.y - box.height * 0.3f, box.width * 1.8f, box.height * 1.6f});
    const cv::Rect face = clamp(box);
    if (ring.area() <= face.area()) {  // the face fills the image: no ring, colour left at 0
      EXPECT_EQ(o.bg_b, 0.0f);
      continue;
    }
    double sum[3] = {0, 0, 0};
    long n = 0;
    for (int y = ring.y; y < ring.y + ring.height; ++y) {
      for (int x = ring.x; x < ring.x + ring.width; ++x) {
        if (face.contains({x, y})) continue;
        const cv::Vec3b p = img.at<cv::Vec3b>(y, x);
        for (int c = 0; c < 3; ++c) sum[c] += p[c];
        ++n;
      }
    }
    ASSERT_GT(n, 0);
    EXPECT_FLOAT_EQ(o.bg_b, float(sum[0] / double(n))) << box;
    EXPECT_FLOAT_EQ(o.bg_g, float(sum[1] / double(n))) << box;
    EXPECT_FLOAT_EQ(o.bg_r, float(sum[2] / double(n))) << box;
  }
}

}  // namespace
}  // namespace livegate::judgement
