// The model-free parts of the pipeline, checked against hand-computed
// geometry: BlazeFace anchors / decoding / weighted NMS, letterbox, crops,
// dlib chip alignment, head pose signs, eye and mouth openness, comparison.
#include <cmath>

#include <gtest/gtest.h>
#include <opencv2/calib3d.hpp>

#include "vision/alignment.h"
#include "vision/blazeface_decode.h"
#include "vision/face_analyzer.h"
#include "vision/face_measures.h"
#include "vision/head_pose.h"

namespace livegate::vision {
namespace {

TEST(BlazeFaceAnchorsTest, LayoutMatchesMediaPipeBackModel) {
  const auto& a = BlazeFaceAnchors();
  ASSERT_EQ(a.size(), 896u);
  EXPECT_EQ(a[0], cv::Point2f(8, 8));      // stride 16, 2 per cell
  EXPECT_EQ(a[1], cv::Point2f(8, 8));
  EXPECT_EQ(a[2], cv::Point2f(24, 8));
  EXPECT_EQ(a[511], cv::Point2f(248, 248));
  EXPECT_EQ(a[512], cv::Point2f(16, 16));  // stride 32, 6 per cell
  EXPECT_EQ(a[517], cv::Point2f(16, 16));
  EXPECT_EQ(a[518], cv::Point2f(48, 16));
  EXPECT_EQ(a[895], cv::Point2f(240, 240));
}

// The front (short-range) model: the same grid on a 128 input, strides 8
// and 16 (MediaPipe's face_detection_short_range anchors).
TEST(BlazeFaceAnchorsTest, LayoutMatchesMediaPipeFrontModel) {
  const auto& a = BlazeFaceAnchors(128);
  ASSERT_EQ(a.size(), 896u);
  EXPECT_EQ(a[0], cv::Point2f(4, 4));      // stride 8, 2 per cell
  EXPECT_EQ(a[1], cv::Point2f(4, 4));
  EXPECT_EQ(a[2], cv::Point2f(12, 4));
  EXPECT_EQ(a[511], cv::Point2f(124, 124));
  EXPECT_EQ(a[512], cv::Point2f(8, 8));    // stride 16, 6 per cell
  EXPECT_EQ(a[518], cv::Point2f(24, 8));
  EXPECT_EQ(a[895], cv::Point2f(120, 120));
  EXPECT_EQ(&BlazeFaceAnchors(256), &BlazeFaceAnchors());
  EXPECT_TRUE(BlazeFaceAnchors(192).empty());
}

struct RawOutput {
  std::vector<float> logits = std::vector<float>(896, -10.f);
  cv::Mat regressors = cv::Mat::zeros(896, 16, CV_32F);
  void Set(int i, float logit, float dx, float dy, float w, float h) {
    logits[i] = logit;
    float* r = regressors.ptr<float>(i);
    r[0] = dx, r[1] = dy, r[2] = w, r[3] = h;
    for (int k = 0; k < 6; ++k) r[4 + 2 * k] = dx + k, r[5 + 2 * k] = dy - k;
  }
};

TEST(DecodeBlazeFaceTest, BoxKeypointsAndScoreRelativeToAnchor) {
  RawOutput raw;
  raw.Set(600, 2.0f, 3.f, -4.f, 40.f, 50.f);  // anchor 600 -> cell 14 of the 8x8 grid
  const auto dets = DecodeBlazeFace(raw.logits, raw.regressors, 0.5f, 0.3f);
  ASSERT_EQ(dets.size(), 1u);
  const cv::Point2f a = BlazeFaceAnchors()[600];
  EXPECT_EQ(a, cv::Point2f(16 + 32 * 6, 16 + 32 * 1));  // (600-512)/6 = 14 -> x 6, y 1
  EXPECT_NEAR(dets[0].score, 1 / (1 + std::exp(-2.0)), 1e-6);
  EXPECT_NEAR(dets[0].box.x, a.x + 3 - 20, 1e-4);
  EXPECT_NEAR(dets[0].box.y, a.y - 4 - 25, 1e-4);
  EXPECT_NEAR(dets[0].box.width, 40, 1e-4);
  EXPECT_NEAR(dets[0].box.height, 50, 1e-4);
  EXPECT_NEAR(dets[0].keypoints[5].x, a.x + 3 + 5, 1e-4);
  EXPECT_NEAR(dets[0].keypoints[5].y, a.y - 4 - 5, 1e-4);
}

TEST(DecodeBlazeFaceTest, FrontInputDecodesAgainstFrontAnchors) {
  RawOutput raw;
  raw.Set(600, 2.0f, 3.f, -4.f, 20.f, 25.f);
  const auto dets = DecodeBlazeFace(raw.logits, raw.regressors, 0.5f, 0.3f, 128);
  ASSERT_EQ(dets.size(), 1u);
  const cv::Point2f a = BlazeFaceAnchors(128)[600];
  EXPECT_EQ(a, cv::Point2f(104, 24));  // (600 - 512) / 6 = cell 14 of the 8x8 grid: (6, 1) * 16 + 8
  EXPECT_NEAR(dets[0].box.x + dets[0].box.width / 2, a.x + 3.f, 1e-4);
  EXPECT_NEAR(dets[0].box.y + dets[0].box.height / 2, a.y - 4.f, 1e-4);
  EXPECT_NEAR(dets[0].box.width, 20.f, 1e-4);
  EXPECT_NEAR(dets[0].keypoints[2].x, a.x + 3.f + 2, 1e-4);
  // An input size with no anchors decodes nothing.
  EXPECT_TRUE(DecodeBlazeFace(raw.logits, raw.regressors, 0.5f, 0.3f, 192).empty());
}

TEST(DetectorChoiceTest, NamesRoundTripAndUnknownIsRejected) {
  for (const DetectorChoice c : {DetectorChoice::kFrontThenBack, DetectorChoice::kBackOnly, DetectorChoice::kFrontOnly}) {
    EXPECT_EQ(ParseDetectorChoice(DetectorChoiceName(c)), c);
  }
  EXPECT_STREQ(DetectorChoiceName(DetectorChoice::kFrontThenBack), "front_then_back");
  EXPECT_EQ(ParseDetectorChoice("front"), std::nullopt);
  EXPECT_EQ(ParseDetectorChoice(""), std::nullopt);
  EXPECT_EQ(AnalyzerOptions{}.detector, DetectorChoice::kFrontThenBack);
}

TEST(DecodeBlazeFaceTest, BelowThresholdIsDropped) {
  RawOutput raw;
  raw.Set(10, 0.5f, 0, 0, 30, 30);  // sigmoid 0.62
  EXPECT_EQ(DecodeBlazeFace(raw.logits, raw.regressors, 0.75f, 0.3f).size(), 0u);
  EXPECT_EQ(DecodeBlazeFace(raw.logits, raw.regressors, 0.6f, 0.3f).size(), 1u);
}

TEST(DecodeBlazeFaceTest, WeightedNmsMergesOverlapsAndKeepsSeparateFaces) {
  RawOutput raw;
  // Anchors 0 and 1 share a centre (8,8): two nearly equal boxes.
  raw.Set(0, 3.0f, 0, 0, 40, 40);
  raw.Set(1, 1.0f, 4, 0, 40, 40);
  raw.Set(895, 2.0f, 0, 0, 30, 30);  // far away
  const auto dets = DecodeBlazeFace(raw.logits, raw.regressors, 0.5f, 0.3f);
  ASSERT_EQ(dets.size(), 2u);
  const float w0 = 1 / (1 + std::exp(-3.f)), w1 = 1 / (1 + std::exp(-1.f));
  EXPECT_NEAR(dets[0].score, w0, 1e-6);  // the best score is kept
  EXPECT_NEAR(dets[0].box.x, 8 - 20 + 4 * w1 / (w0 + w1), 1e-4);  // score-weighted mean
  EXPECT_NEAR(dets[1].box.x, 240 - 15, 1e-4);
}

TEST(DecodeBlazeFaceTest, WrongShapesGiveNothing) {
  EXPECT_TRUE(DecodeBlazeFace(std::vector<float>(10, 5.f), cv::Mat::zeros(10, 16, CV_32F), 0.5f, 0.3f).empty());
}

TEST(LetterboxTest, MapsBackToImagePixels) {
  cv::Mat img(480, 640, CV_8UC3, cv::Scalar(255, 0, 0));  // blue in BGR
  cv::Mat rgb;
  const Letterbox lb = LetterboxRgb(img, 256, rgb);
  EXPECT_FLOAT_EQ(lb.scale, 0.4f);
  EXPECT_EQ(lb.offset, cv::Point2f(0, 32));
  EXPECT_EQ(rgb.at<cv::Vec3b>(128, 128), cv::Vec3b(0, 0, 255));  // RGB order
  EXPECT_EQ(rgb.at<cv::Vec3b>(10, 128), cv::Vec3b(0, 0, 0));      // padding
  const cv::Point2f p = lb.ToImage(cv::Point2f(100, 132));
  EXPECT_NEAR(p.x, 250, 1e-3);
  EXPECT_NEAR(p.y, 250, 1e-3);
}

TEST(AlignmentTest, RotatedCropMapsCentreAndAxes) {
  const CropTransform t = MakeRotatedCrop({100, 200}, 96, static_cast<float>(M_PI / 2), 192);
  EXPECT_DOUBLE_EQ(t.scale, 0.5);
  const cv::Point2f c = t.ToImage({96, 96});
  EXPECT_NEAR(c.x, 100, 1e-4);
  EXPECT_NEAR(c.y, 200, 1e-4);
  // Crop +x runs along image +y when the crop is turned by 90 degrees.
  const cv::Point2f px = t.ToImage({96 + 10, 96});
  EXPECT_NEAR(px.x, 100, 1e-4);
  EXPECT_NEAR(px.y, 205, 1e-4);
}

TEST(AlignmentTest, FitSimilarityRecoversAKnownTransform) {
  const double s = 1.7, a = 0.3;
  std::vector<cv::Point2d> from = {{0, 0}, {10, 0}, {3, 7}, {-4, 2}}, to;
  for (auto p : from) {
    to.emplace_back(s * (std::cos(a) * p.x - std::sin(a) * p.y) + 5,
                    s * (std::sin(a) * p.x + std::cos(a) * p.y) - 2);
  }
  const cv::Matx23d m = FitSimilarity(from, to);
  EXPECT_NEAR(m(0, 0), s * std::cos(a), 1e-9);
  EXPECT_NEAR(m(1, 0), s * std::sin(a), 1e-9);
  EXPECT_NEAR(m(0, 2), 5, 1e-9);
  EXPECT_NEAR(m(1, 2), -2, 1e-9);
}

TEST(AlignmentTest, DlibChipOfTemplatePointsIsIdentity) {
  // Image points placed exactly where dlib's template puts them in a 150
  // chip with padding 0.25: the chip transform is the identity.
  const double t[5][2] = {{0.8595674595992, 0.2134981538014}, {0.6460604764104, 0.2289674387677},
                          {0.1205750620789, 0.2137274526848}, {0.3340850613712, 0.2290642403242},
                          {0.4901123135679, 0.6277975316475}};
  std::array<cv::Point2f, 5> pts;
  for (int i = 0; i < 5; ++i) {
    pts[i] = cv::Point2f(static_cast<float>((0.25 + t[i][0]) / 1.5 * 150), static_cast<float>((0.25 + t[i][1]) / 1.5 * 150));
  }
  const CropTransform c = DlibChipTransform(pts);
  EXPECT_NEAR(c.scale, 1.0, 1e-6);
  EXPECT_NEAR(c.crop_to_image(0, 1), 0.0, 1e-6);
  EXPECT_NEAR(c.crop_to_image(0, 2), 0.0, 1e-4);
  EXPECT_NEAR(c.crop_to_image(1, 2), 0.0, 1e-4);
}

TEST(AlignmentTest, WarpCropOfLargeScaleIsAreaAveraged) {
  cv::Mat img(400, 400, CV_8UC3);
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) img.at<cv::Vec3b>(y, x) = ((x + y) % 2) ? cv::Vec3b(255, 255, 255) : cv::Vec3b(0, 0, 0);
  const CropTransform t = MakeRotatedCrop({200, 200}, 300, 0, 50);  // 6x shrink of a checkerboard
  cv::Mat out;
  WarpCrop(img, t, 50, out);
  ASSERT_EQ(out.size(), cv::Size(50, 50));
  // Aliasing would give black/white; averaging gives grey.
  EXPECT_NEAR(out.at<cv::Vec3b>(25, 25)[0], 127, 20);
}

// Projects the pose model points after a known rotation into a mesh.
std::vector<cv::Point3f> ProjectedMesh(double yaw_deg, double pitch_deg, double roll_deg, cv::Size size) {
  // Build R from the HeadPose conventions: yaw turns the nose toward +x,
  // pitch lifts it toward -y, roll turns the eye line clockwise.
  const double y = yaw_deg * M_PI / 180, p = pitch_deg * M_PI / 180, r = roll_deg * M_PI / 180;
  const cv::Matx33d ry(std::cos(y), 0, -std::sin(y), 0, 1, 0, std::sin(y), 0, std::cos(y));
  const cv::Matx33d rx(1, 0, 0, 0, std::cos(p), std::sin(p), 0, -std::sin(p), std::cos(p));
  const cv::Matx33d rz(std::cos(r), -std::sin(r), 0, std::sin(r), std::cos(r), 0, 0, 0, 1);
  const cv::Matx33d rot = rz * ry * rx;
  std::vector<cv::Point3f> mesh(mesh_index::kCount, cv::Point3f(0, 0, 0));
  const double f = size.width;
  for (const auto& mp : PoseModelPoints()) {
    const cv::Vec3d q = rot * cv::Vec3d(mp.model.x, mp.model.y, mp.model.z) + cv::Vec3d(0, 0, 3000);
    mesh[mp.mesh_index] = {static_cast<float>(f * q[0] / q[2] + size.width / 2.0),
                           static_cast<float>(f * q[1] / q[2] + size.height / 2.0), 0.f};
  }
  return mesh;
}

TEST(HeadPoseTest, FrontalIsZero) {
  const HeadPose p = EstimateHeadPose(ProjectedMesh(0, 0, 0, {640, 480}), {640, 480});
  EXPECT_NEAR(p.yaw_deg, 0, 0.5);
  EXPECT_NEAR(p.pitch_deg, 0, 0.5);
  EXPECT_NEAR(p.roll_deg, 0, 0.5);
}

TEST(HeadPoseTest, RecoversEachAngleWithItsSign) {
  const cv::Size size(640, 480);
  {
    const auto mesh = ProjectedMesh(25, 0, 0, size);
    // Face turned to its own left: the nose moves to the image right of the eyes.
    const float eye_mid = (mesh[mesh_index::kRightEyeOuter].x + mesh[mesh_index::kLeftEyeOuter].x) / 2;
    EXPECT_GT(mesh[mesh_index::kNoseTip].x, eye_mid);
    const HeadPose p = EstimateHeadPose(mesh, size);
    EXPECT_NEAR(p.yaw_deg, 25, 1.0);
    EXPECT_NEAR(p.pitch_deg, 0, 1.0);
  }
  {
    const HeadPose p = EstimateHeadPose(ProjectedMesh(0, 15, 0, size), size);
    EXPECT_NEAR(p.pitch_deg, 15, 1.0);
    EXPECT_NEAR(p.yaw_deg, 0, 1.0);
  }
  {
    const auto mesh = ProjectedMesh(0, 0, 20, size);
    EXPECT_GT(mesh[mesh_index::kLeftEyeOuter].y, mesh[mesh_index::kRightEyeOuter].y);  // clockwise on screen
    const HeadPose p = EstimateHeadPose(mesh, size);
    EXPECT_NEAR(p.roll_deg, 20, 1.0);
  }
  {
    const HeadPose p = EstimateHeadPose(ProjectedMesh(-30, -10, -5, size), size);
    EXPECT_NEAR(p.yaw_deg, -30, 1.5);
    EXPECT_NEAR(p.pitch_deg, -10, 1.5);
    EXPECT_NEAR(p.roll_deg, -5, 1.5);
  }
}

TEST(FaceMeasuresTest, EyeAndMouthOpenness) {
  using namespace mesh_index;
  std::vector<cv::Point3f> m(kCount, cv::Point3f(0, 0, 0));
  // Right eye 30 px wide, lids 9 px apart: EAR 0.3.
  m[kRightEyeOuter] = {100, 100, 0};
  m[kRightEyeInner] = {130, 100, 0};
  for (const auto& pair : kRightEyeLids) {
    m[pair[0]] = {115, 95.5f, 0};
    m[pair[1]] = {115, 104.5f, 0};
  }
  // Left eye closed: lids 1.5 px apart -> 0.05.
  m[kLeftEyeInner] = {170, 100, 0};
  m[kLeftEyeOuter] = {200, 100, 0};
  for (const auto& pair : kLeftEyeLids) {
    m[pair[0]] = {185, 99.25f, 0};
    m[pair[1]] = {185, 100.75f, 0};
  }
  m[kMouthRight] = {120, 200, 0};
  m[kMouthLeft] = {180, 200, 0};
  m[kInnerLipUpper] = {150, 195, 0};
  m[kInnerLipLower] = {150, 213, 0};
  EXPECT_NEAR(RightEyeOpenness(m), 0.3, 1e-5);
  EXPECT_NEAR(LeftEyeOpenness(m), 0.05, 1e-5);
  EXPECT_NEAR(MouthOpenness(m), 0.3, 1e-5);
  EXPECT_EQ(RightEyeCentre(m), cv::Point2f(115, 100));
  EXPECT_EQ(LeftEyeCentre(m), cv::Point2f(185, 100));
  EXPECT_FLOAT_EQ(RightEyeOpenness({}), 0.f);  // no mesh: no measure, no crash
}

TEST(CompareDescriptorsTest, EuclideanDistanceAndThreshold) {
  Descriptor a{}, b{};
  a[0] = 0.3f;
  b[0] = -0.2f;
  b[5] = 0.1f;  // distance sqrt(0.25 + 0.01)
  EXPECT_NEAR(DescriptorDistance(a, b), std::sqrt(0.26f), 1e-6);
  EXPECT_TRUE(CompareDescriptors(a, b, kDlibReferenceThreshold).same);
  EXPECT_FALSE(CompareDescriptors(a, b, 0.5f).same);
  EXPECT_FLOAT_EQ(CompareDescriptors(a, a).distance, 0.f);
}

}  // namespace
}  // namespace livegate::vision
