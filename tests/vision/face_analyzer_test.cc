// The face analysis pipeline on real faces (models from scripts/setup, images
// from Debian's dlib examples and the shared test data): faces found, sorted,
// tiny faces flagged, EXIF-rotated photo upright, and descriptors that put
// the same person under dlib's 0.6 and different people over it.
#include "vision/face_analyzer.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "support/test_data.h"
#include "vision/image_io.h"

namespace livegate::vision {
namespace {

const std::filesystem::path kDlibExamples = "/usr/share/doc/libdlib19.1/examples";

#define LG_REQUIRE_FILE(p)                                                         \
  do {                                                                             \
    if (!std::filesystem::exists(p)) GTEST_SKIP() << "missing (install libdlib19.1 docs): " << (p); \
  } while (0)

class FaceAnalyzerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(testing::ModelDir() / "blazeface.json")) return;
    AnalyzerOptions o;
    o.model_dir = testing::ModelDir();
    auto a = FaceAnalyzer::Create(o);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    analyzer_ = std::move(a).value().release();
  }
  static void TearDownTestSuite() {
    delete analyzer_;
    analyzer_ = nullptr;
  }
  void SetUp() override { LG_REQUIRE_MODELS(); ASSERT_NE(analyzer_, nullptr); }

  static std::vector<FaceAnalysis> AnalyzeFile(const std::filesystem::path& p) {
    auto img = ReadImageFile(p);
    EXPECT_TRUE(img.ok()) << p << ": " << img.status().ToString();
    if (!img.ok()) return {};
    auto r = analyzer_->Analyze(*img);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : std::vector<FaceAnalysis>{};
  }
  // `photo` through a fresh analyzer with `options` (models from the test
  // model folder).
  static std::vector<FaceAnalysis> AnalyzeWith(AnalyzerOptions options, const std::filesystem::path& photo) {
    options.model_dir = testing::ModelDir();
    auto a = FaceAnalyzer::Create(options);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    auto img = ReadImageFile(photo);
    EXPECT_TRUE(img.ok()) << photo;
    if (!a.ok() || !img.ok()) return {};
    auto faces = (*a)->Analyze(*img);
    EXPECT_TRUE(faces.ok()) << faces.status().ToString();
    return faces.ok() ? std::move(faces).value() : std::vector<FaceAnalysis>{};
  }
  static FaceAnalyzer* analyzer_;
};
FaceAnalyzer* FaceAnalyzerTest::analyzer_ = nullptr;

// dlib's labelled example faces (testing.xml + training.xml, 43 boxes):
// found when a detection overlaps the label with IoU > 0.3.
struct DlibExampleCount {
  int labelled = 0, found = 0, unmatched_detections = 0;
  int large = 0, large_found = 0;  // labels at least 0.12 of the image's longer side
  int found_by_front = 0;
};
DlibExampleCount CountDlibExampleFaces(DetectorChoice detector) {
  DlibExampleCount c;
  AnalyzerOptions o;
  o.model_dir = testing::ModelDir();
  o.detector = detector;
  o.max_faces = 50;
  o.compute_descriptor = false;
  auto analyzer = FaceAnalyzer::Create(o);
  EXPECT_TRUE(analyzer.ok()) << analyzer.status().ToString();
  if (!analyzer.ok()) return c;
  for (const std::string xml : {"testing.xml", "training.xml"}) {
    std::ifstream in(kDlibExamples / "faces" / xml);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const std::regex image_re("<image file='([^']+)'[^>]*>([\\s\\S]*?)</image>");
    const std::regex box_re("top='(\\d+)' left='(\\d+)' width='(\\d+)' height='(\\d+)'");
    for (std::sregex_iterator it(text.begin(), text.end(), image_re), end; it != end; ++it) {
      const std::string file = (*it)[1], body = (*it)[2];
      auto img = ReadImageFile(kDlibExamples / "faces" / file);
      EXPECT_TRUE(img.ok()) << file;
      if (!img.ok()) continue;
      auto faces = (*analyzer)->Analyze(*img);
      EXPECT_TRUE(faces.ok()) << faces.status().ToString();
      if (!faces.ok()) continue;
      const float longer = static_cast<float>(std::max(img->cols, img->rows));
      std::vector<bool> matched(faces->size(), false);
      for (std::sregex_iterator b(body.begin(), body.end(), box_re); b != std::sregex_iterator(); ++b) {
        const cv::Rect2f label(std::stof((*b)[2]), std::stof((*b)[1]), std::stof((*b)[3]), std::stof((*b)[4]));
        ++c.labelled;
        const bool large = label.width >= 0.12f * longer;
        c.large += large ? 1 : 0;
        for (size_t i = 0; i < faces->size(); ++i) {
          const float inter = (label & (*faces)[i].box).area();
          if (inter / (label.area() + (*faces)[i].box.area() - inter) > 0.3f) {
            ++c.found;
            c.large_found += large ? 1 : 0;
            c.found_by_front += (*faces)[i].detected_by == FaceDetectorModel::kFront ? 1 : 0;
            matched[i] = true;
            break;
          }
        }
      }
      c.unmatched_detections += static_cast<int>(std::count(matched.begin(), matched.end(), false));
    }
  }
  std::printf("[dlib examples] %s: %d of %d labelled faces found (%d by the front model), %d of the %d at least "
              "0.12 of the longer side, %d unmatched detection(s)\n",
              DetectorChoiceName(detector), c.found, c.labelled, c.found_by_front, c.large_found, c.large,
              c.unmatched_detections);
  return c;
}

// The default (front, back as fallback): these group photos hold faces
// narrower than front_min_face_fraction, so the back model runs on them and
// the result is the back model's (42/43), plus nothing spurious.
TEST_F(FaceAnalyzerTest, FindsTheLabelledDlibExampleFaces) {
  LG_REQUIRE_FILE(kDlibExamples / "faces/testing.xml");
  const DlibExampleCount c = CountDlibExampleFaces(DetectorChoice::kFrontThenBack);
  EXPECT_EQ(c.labelled, 43);
  EXPECT_GE(c.found, 42);  // measured: 42 (one small face in 2008_002079.jpg is missed)
  // One group photo (2008_004176.jpg) has a second box on a half-hidden face.
  EXPECT_LE(c.unmatched_detections, 1);
}

TEST_F(FaceAnalyzerTest, BackOnlyFindsTheLabelledDlibExampleFaces) {
  LG_REQUIRE_FILE(kDlibExamples / "faces/testing.xml");
  const DlibExampleCount c = CountDlibExampleFaces(DetectorChoice::kBackOnly);
  EXPECT_EQ(c.labelled, 43);
  EXPECT_GE(c.found, 42);
  EXPECT_EQ(c.found_by_front, 0);
  EXPECT_LE(c.unmatched_detections, 1);
}

// The front model alone: its limit, measured. Every labelled face at least
// 0.12 of the image's longer side is found; most of these group photos'
// faces are smaller (0.07-0.11) and are missed - why it is not used alone.
TEST_F(FaceAnalyzerTest, FrontOnlyFindsTheLargerDlibExampleFacesOnly) {
  LG_REQUIRE_FILE(kDlibExamples / "faces/testing.xml");
  const DlibExampleCount c = CountDlibExampleFaces(DetectorChoice::kFrontOnly);
  EXPECT_EQ(c.labelled, 43);
  EXPECT_EQ(c.large, 10);
  EXPECT_EQ(c.large_found, c.large);
  EXPECT_EQ(c.found_by_front, c.found);
  EXPECT_LT(c.found, 20);  // measured: 11 of 43
  EXPECT_EQ(c.unmatched_detections, 0);
}

// Which model answers, by face size: one real face (a dlib johns crop)
// pasted at several sizes into a 640x480 grey frame. Large: the front model
// alone. Narrower than front_min_face_fraction (0.24) of the frame: the back
// model runs too. Below the front model's floor (~0.12): only the back model
// finds it, and front_only finds nothing.
TEST_F(FaceAnalyzerTest, DetectorFollowsFaceSize) {
  const auto crop = kDlibExamples / "johns/John_Salley/000183_02159543.jpg";
  LG_REQUIRE_FILE(crop);
  auto face = ReadImageFile(crop);
  ASSERT_TRUE(face.ok());
  // Face width in the crop, measured by the back model on the crop padded.
  AnalyzerOptions o;
  o.model_dir = testing::ModelDir();
  o.compute_mesh = false;
  o.compute_descriptor = false;
  o.detector = DetectorChoice::kBackOnly;
  auto back_only = FaceAnalyzer::Create(o);
  ASSERT_TRUE(back_only.ok());
  auto paste = [&](float face_fraction, float width_in_crop) {
    cv::Mat frame(480, 640, CV_8UC3, cv::Scalar::all(128));
    const int side = static_cast<int>(std::lround(face_fraction * 640 / width_in_crop * face->cols));
    cv::Mat resized;
    cv::resize(*face, resized, {side, side}, 0, 0, cv::INTER_AREA);
    resized.copyTo(frame(cv::Rect((640 - side) / 2, (480 - side) / 2, side, side)));
    return frame;
  };
  cv::Mat probe(480, 640, CV_8UC3, cv::Scalar::all(128));
  face->copyTo(probe(cv::Rect(245, 165, face->cols, face->rows)));
  auto measured = (*back_only)->Analyze(probe);
  ASSERT_TRUE(measured.ok());
  ASSERT_EQ(measured->size(), 1u);
  const float width_in_crop = (*measured)[0].box.width;

  o.detector = DetectorChoice::kFrontThenBack;
  auto front_then_back = FaceAnalyzer::Create(o);
  ASSERT_TRUE(front_then_back.ok());
  o.detector = DetectorChoice::kFrontOnly;
  auto front_only = FaceAnalyzer::Create(o);
  ASSERT_TRUE(front_only.ok());
  struct Case {
    float fraction;
    size_t front_only_faces;
    FaceDetectorModel by;
  };
  for (const Case& c : {Case{0.40f, 1, FaceDetectorModel::kFront}, Case{0.30f, 1, FaceDetectorModel::kFront},
                        Case{0.18f, 1, FaceDetectorModel::kBack}, Case{0.08f, 0, FaceDetectorModel::kBack}}) {
    SCOPED_TRACE(c.fraction);
    const cv::Mat frame = paste(c.fraction, width_in_crop);
    auto faces = (*front_then_back)->Analyze(frame);
    ASSERT_TRUE(faces.ok());
    ASSERT_EQ(faces->size(), 1u);
    EXPECT_EQ((*faces)[0].detected_by, c.by);
    EXPECT_NEAR((*faces)[0].box.width / 640.f, c.fraction, 0.25f * c.fraction);
    auto fronts = (*front_only)->Analyze(frame);
    ASSERT_TRUE(fronts.ok());
    EXPECT_EQ(fronts->size(), c.front_only_faces);
  }
}

TEST_F(FaceAnalyzerTest, NoFaceIsAnEmptyResult) {
  LG_REQUIRE_FILE(kDlibExamples / "faces/dogs.jpg");
  EXPECT_TRUE(AnalyzeFile(kDlibExamples / "faces/dogs.jpg").empty());
  // A flat grey frame: no face, no error.
  auto r = analyzer_->Analyze(cv::Mat(480, 640, CV_8UC3, cv::Scalar(128, 128, 128)));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST_F(FaceAnalyzerTest, EmptyImageIsRefused) {
  EXPECT_EQ(analyzer_->Analyze(cv::Mat()).status().reason(), "image.empty");
}

TEST_F(FaceAnalyzerTest, SeveralFacesLargestFirstEachMeasured) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/_multi/two_people.jpg");
  const auto dir = testing::TestDataDir() / "1_face_identity";
  const std::map<std::string, size_t> expected = {
      {"face_recognition/_multi/two_people.jpg", 2},
      {"face_recognition/_multi/kit_with_rose.jpg", 2},
      {"openface/_multi/longoria-cooper.jpg", 2},
      {"face_recognition/_multi/obama_and_biden.jpg", 3},  // and a child at the edge
  };
  for (const auto& [file, n] : expected) {
    SCOPED_TRACE(file);
    const auto faces = AnalyzeFile(dir / file);
    ASSERT_EQ(faces.size(), n);
    for (size_t i = 0; i < faces.size(); ++i) {
      if (i > 0) { EXPECT_GE(faces[i - 1].box.area(), faces[i].box.area()); }
      EXPECT_FALSE(faces[i].tiny);
      EXPECT_EQ(faces[i].mesh.size(), 468u);
      EXPECT_GT(faces[i].mesh_confidence, 0.5f);
      EXPECT_TRUE(faces[i].descriptor.has_value());
      EXPECT_EQ(faces[i].chip.size(), cv::Size(150, 150));
    }
  }
}

TEST_F(FaceAnalyzerTest, MaxFacesKeepsTheLargest) {
  LG_REQUIRE_FILE(kDlibExamples / "faces/2008_002470.jpg");
  AnalyzerOptions o;
  o.model_dir = testing::ModelDir();
  o.max_faces = 2;
  o.compute_descriptor = false;
  auto a = FaceAnalyzer::Create(o);
  ASSERT_TRUE(a.ok());
  const cv::Mat img = *ReadImageFile(kDlibExamples / "faces/2008_002470.jpg");
  auto two = (*a)->Analyze(img);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  const auto all = AnalyzeFile(kDlibExamples / "faces/2008_002470.jpg");
  ASSERT_GE(all.size(), 4u);  // default max_faces
  EXPECT_NEAR((*two)[0].box.area(), all[0].box.area(), 1e-3);
  EXPECT_NEAR((*two)[1].box.area(), all[1].box.area(), 1e-3);
}

TEST_F(FaceAnalyzerTest, TinyFaceIsFlaggedAndNotMeasured) {
  LG_REQUIRE_TEST_DATA("1_face_identity/openface/_multi/longoria-cooper.jpg");
  const cv::Mat img = *ReadImageFile(testing::TestDataDir() / "1_face_identity/openface/_multi/longoria-cooper.jpg");
  // 293x473 with ~70 px faces; at 40 % the faces are ~28 px wide.
  cv::Mat small;
  cv::resize(img, small, {}, 0.4, 0.4, cv::INTER_AREA);
  auto r = analyzer_->Analyze(small);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->empty());
  for (const auto& f : *r) {
    EXPECT_LT(f.box.width, 40.f);
    EXPECT_TRUE(f.tiny);
    EXPECT_TRUE(f.mesh.empty());
    EXPECT_FALSE(f.descriptor.has_value());
  }
}

TEST_F(FaceAnalyzerTest, ExifRotatedPhotoIsAnalysedUpright) {
  LG_REQUIRE_TEST_DATA("3_presentation_attack/silent_face/sf_head_image_T1_real.jpg");
  const auto path = testing::TestDataDir() / "3_presentation_attack/silent_face/sf_head_image_T1_real.jpg";
  const auto faces = AnalyzeFile(path);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_LT(std::abs(faces[0].pose.roll_deg), 20.f);
  // The eyes sit above the mouth in the decoded image.
  EXPECT_LT(faces[0].keypoints[0].y, faces[0].keypoints[3].y);
  EXPECT_LT(faces[0].keypoints[1].y, faces[0].keypoints[3].y);
  // As stored (orientation ignored), the face is on its side.
  const cv::Mat raw = cv::imread(path.string(), cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  ASSERT_EQ(raw.size(), cv::Size(640, 480));
  auto sideways = analyzer_->Analyze(raw);
  ASSERT_TRUE(sideways.ok());
  for (const auto& f : *sideways) EXPECT_GT(std::abs(f.pose.roll_deg), 45.f);
}

// AnalyzerOptions::compute_iris: the MediaPipe Iris eye measure per face
// (R-ASD-1 blink). Off by default; on, both eyes of an open-eyed portrait
// read open on the Iris scale (measured 0.275 right, 0.234 left; a shut
// eye reads 0.05-0.15, tests/judgement/integration_iris_eye_test.cc).
TEST_F(FaceAnalyzerTest, IrisEyeOpennessOnlyWhenAsked) {
  const std::filesystem::path photo = kDlibExamples / "faces/Tom_Cruise_avp_2014_4.jpg";
  LG_REQUIRE_FILE(photo);
  const auto plain = AnalyzeFile(photo);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_FALSE(plain[0].iris_eye_openness.has_value());

  AnalyzerOptions o;
  o.compute_iris = true;
  const auto faces = AnalyzeWith(o, photo);
  ASSERT_EQ(faces.size(), 1u);
  ASSERT_TRUE(faces.front().iris_eye_openness.has_value());
  const auto& eyes = *faces.front().iris_eye_openness;
  EXPECT_GT(eyes[0], 0.2f);
  EXPECT_LT(eyes[0], 0.4f);
  EXPECT_GT(eyes[1], 0.2f);
  EXPECT_LT(eyes[1], 0.4f);
}

TEST_F(FaceAnalyzerTest, IrisWithoutItsWeightsFailsAtCreate) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "livegate-no-iris-models";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(testing::ModelDir())) {
    if (e.path().filename().string().rfind("iris", 0) != 0) {
      std::filesystem::copy_file(e.path(), dir / e.path().filename());
    }
  }
  AnalyzerOptions o;
  o.model_dir = dir;
  EXPECT_TRUE(FaceAnalyzer::Create(o).ok());  // the Iris is not needed by default
  o.compute_iris = true;
  auto a = FaceAnalyzer::Create(o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().reason(), "model.missing_file");
  std::filesystem::remove_all(dir);
}

// The faces of one image are described in one batched forward pass: each
// face's descriptor must equal the one its own chip gets alone.
TEST_F(FaceAnalyzerTest, BatchedDescriptorsEqualOneByOne) {
  const std::filesystem::path photo = kDlibExamples / "faces/2008_002470.jpg";
  LG_REQUIRE_FILE(photo);
  AnalyzerOptions o;
  o.max_faces = 20;
  const auto faces = AnalyzeWith(o, photo);
  auto model = DescriptorModel::Load(testing::ModelDir());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  int described = 0;
  for (const FaceAnalysis& f : faces) {
    if (f.tiny) continue;
    ASSERT_TRUE(f.descriptor.has_value());
    cv::Mat rgb;
    cv::cvtColor(f.chip, rgb, cv::COLOR_BGR2RGB);
    auto alone = (*model)->Run(rgb);
    ASSERT_TRUE(alone.ok()) << alone.status().ToString();
    for (int k = 0; k < 128; ++k) EXPECT_NEAR((*f.descriptor)[k], (*alone)[k], 1e-6f) << "face " << described;
    ++described;
  }
  EXPECT_GE(described, 3);  // measured: 6 faces found, 3 large enough to describe
}

TEST_F(FaceAnalyzerTest, GrayscaleInputIsAnalysed) {
  LG_REQUIRE_TEST_DATA("1_face_identity/orl_att");
  const auto dir = testing::TestDataDir() / "1_face_identity/orl_att";
  std::filesystem::path pgm;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().extension() == ".pgm") {
      pgm = e.path();
      break;
    }
  }
  ASSERT_FALSE(pgm.empty());
  const cv::Mat gray = cv::imread(pgm.string(), cv::IMREAD_GRAYSCALE);
  ASSERT_EQ(gray.type(), CV_8UC1);
  auto r = analyzer_->Analyze(gray);  // 1 channel in: converted, not refused
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u) << pgm;
  EXPECT_TRUE((*r)[0].descriptor.has_value());
}

TEST_F(FaceAnalyzerTest, MirroredImageMirrorsPoseAndKeepsIdentity) {
  LG_REQUIRE_FILE(kDlibExamples / "faces/2008_002506.jpg");
  const cv::Mat img = *ReadImageFile(kDlibExamples / "faces/2008_002506.jpg");
  cv::Mat mirrored;
  cv::flip(img, mirrored, 1);
  auto a = analyzer_->Analyze(img);
  auto b = analyzer_->Analyze(mirrored);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 3u);
  ASSERT_EQ(b->size(), 3u);
  for (const auto& fa : *a) {
    // Match by mirrored box centre.
    const float cx = img.cols - (fa.box.x + fa.box.width / 2);
    const FaceAnalysis* fb = nullptr;
    for (const auto& f : *b) {
      if (std::abs(f.box.x + f.box.width / 2 - cx) < 10) fb = &f;
    }
    ASSERT_NE(fb, nullptr);
    EXPECT_NEAR(fa.pose.yaw_deg, -fb->pose.yaw_deg, 6.f);
    EXPECT_NEAR(fa.pose.roll_deg, -fb->pose.roll_deg, 6.f);
    EXPECT_NEAR(fa.pose.pitch_deg, fb->pose.pitch_deg, 6.f);
    if (std::abs(fa.pose.yaw_deg) < 15) {  // turned faces: the far eye is poorly seen
      EXPECT_NEAR(fa.mouth_openness, fb->mouth_openness, 0.05f);
      // Left and right eye swap.
      EXPECT_NEAR(fa.left_eye_openness, fb->right_eye_openness, 0.05f);
      EXPECT_NEAR(fa.right_eye_openness, fb->left_eye_openness, 0.05f);
    }
    EXPECT_LT(DescriptorDistance(*fa.descriptor, *fb->descriptor), 0.6f);
  }
  // The two outer faces look to opposite sides (turned heads in this photo).
  EXPECT_GT(std::abs((*a)[0].pose.yaw_deg), 20.f);
}

// Tracking (AnalyzeVideoFrame) on a real webcam clip gives the same faces
// and measures as detecting every frame, with the detector skipped on most
// frames.
TEST_F(FaceAnalyzerTest, VideoTrackingAgreesWithPerFrameDetection) {
  LG_REQUIRE_TEST_DATA("3_presentation_attack/zubaircrackscode/zubair_real.webm");
  AnalyzerOptions o;
  o.model_dir = testing::ModelDir();
  auto tracker = FaceAnalyzer::Create(o);
  ASSERT_TRUE(tracker.ok());
  int frames = 0, tracked = 0;
  const Status s = ForEachVideoFrame(
      testing::TestDataDir() / "3_presentation_attack/zubaircrackscode/zubair_real.webm",
      [&](const VideoFrame& frame) {
        auto t = (*tracker)->AnalyzeVideoFrame(frame.bgr);
        auto d = analyzer_->Analyze(frame.bgr);
        EXPECT_TRUE(t.ok() && d.ok());
        if (!t.ok() || !d.ok()) return false;
        EXPECT_EQ(t->size(), d->size()) << "frame " << frame.index;
        if (t->size() != 1 || d->size() != 1) return ++frames < 40;
        const FaceAnalysis &ft = (*t)[0], &fd = (*d)[0];
        if (ft.tracked) ++tracked;
        const float inter = (ft.box & fd.box).area();
        EXPECT_GT(inter / (ft.box.area() + fd.box.area() - inter), 0.6f) << "frame " << frame.index;
        EXPECT_NEAR(ft.pose.yaw_deg, fd.pose.yaw_deg, 6.f) << "frame " << frame.index;
        EXPECT_NEAR(ft.pose.roll_deg, fd.pose.roll_deg, 6.f) << "frame " << frame.index;
        EXPECT_NEAR(ft.mouth_openness, fd.mouth_openness, 0.08f) << "frame " << frame.index;
        EXPECT_LT(DescriptorDistance(*ft.descriptor, *fd.descriptor), 0.3f) << "frame " << frame.index;
        return ++frames < 40;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(frames, 40);
  EXPECT_GE(tracked, 32);  // detector every 10th frame: 36 of 40 tracked
  // After a reset the next frame is detected again.
  (*tracker)->ResetTracking();
}

// Issue 16: frames analysed between the regular ones (the judgement's
// blink-only frames) are tracked and do not advance the detector's cadence:
// with one such frame after every regular frame, the detector still runs on
// every 10th regular frame (the first, 11th, 21st), never on a frame between.
TEST_F(FaceAnalyzerTest, FramesBetweenRegularOnesDoNotAdvanceTheDetectorCadence) {
  LG_REQUIRE_TEST_DATA("3_presentation_attack/zubaircrackscode/zubair_real.webm");
  AnalyzerOptions o;
  o.model_dir = testing::ModelDir();
  o.compute_descriptor = false;
  auto a = FaceAnalyzer::Create(o);
  ASSERT_TRUE(a.ok());
  std::vector<int> detected_regular;
  int frames = 0, regular = 0, between_detected = 0, between = 0;
  const Status s = ForEachVideoFrame(
      testing::TestDataDir() / "3_presentation_attack/zubaircrackscode/zubair_real.webm",
      [&](const VideoFrame& frame) {
        const bool is_regular = frame.index % 2 == 0;
        auto r = is_regular ? (*a)->AnalyzeVideoFrame(frame.bgr) : (*a)->AnalyzeVideoFrameBetween(frame.bgr);
        EXPECT_TRUE(r.ok() && r->size() == 1) << "frame " << frame.index;
        if (!r.ok() || r->empty()) return false;
        if (is_regular) {
          if (!(*r)[0].tracked) detected_regular.push_back(regular);
          ++regular;
        } else {
          between_detected += (*r)[0].tracked ? 0 : 1;
          ++between;
        }
        return ++frames < 50;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(between, 25);
  EXPECT_EQ(between_detected, 0);
  EXPECT_EQ(detected_regular, (std::vector<int>{0, 10, 20}));
}

// AnalyzeVideoFrame's detection frames (first, every 10th) go through the
// same detector choice as Analyze: a face over 0.24 of the frame
// (liveportrait d0, ~0.49) is found by the front model alone; zubair_real's
// face (~0.17-0.19 of 960 px) makes the back model run too (its box kept),
// unless front_min_face_fraction is 0. Tracked frames keep the detection's
// model in detected_by.
TEST_F(FaceAnalyzerTest, VideoDetectionFramesUseTheDetectorChoice) {
  LG_REQUIRE_TEST_DATA("2_face_video/liveportrait/liveportrait_d0.mp4");
  LG_REQUIRE_TEST_DATA("3_presentation_attack/zubaircrackscode/zubair_real.webm");
  auto run = [](const std::string& clip, float front_min_face_fraction) {
    AnalyzerOptions o;
    o.model_dir = testing::ModelDir();
    o.compute_descriptor = false;
    o.front_min_face_fraction = front_min_face_fraction;
    auto a = FaceAnalyzer::Create(o);
    EXPECT_TRUE(a.ok());
    std::map<std::pair<bool, FaceDetectorModel>, int> seen;  // (tracked, model) -> faces
    if (!a.ok()) return seen;
    int frames = 0;
    const Status s = ForEachVideoFrame(testing::TestDataDir() / clip, [&](const VideoFrame& frame) {
      auto r = (*a)->AnalyzeVideoFrame(frame.bgr);
      EXPECT_TRUE(r.ok());
      if (r.ok()) {
        for (const auto& f : *r) ++seen[{f.tracked, f.detected_by}];
      }
      return ++frames < 25;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return seen;
  };
  using Key = std::pair<bool, FaceDetectorModel>;
  const auto large = run("2_face_video/liveportrait/liveportrait_d0.mp4", 0.24f);
  EXPECT_EQ(large.count(Key{false, FaceDetectorModel::kBack}), 0u);
  EXPECT_EQ(large.count(Key{true, FaceDetectorModel::kBack}), 0u);
  EXPECT_GE(large.count(Key{false, FaceDetectorModel::kFront}) ? large.at(Key{false, FaceDetectorModel::kFront}) : 0, 3);
  EXPECT_GE(large.count(Key{true, FaceDetectorModel::kFront}) ? large.at(Key{true, FaceDetectorModel::kFront}) : 0, 20);
  const auto small = run("3_presentation_attack/zubaircrackscode/zubair_real.webm", 0.24f);
  EXPECT_EQ(small.count(Key{false, FaceDetectorModel::kFront}), 0u);
  EXPECT_GE(small.count(Key{false, FaceDetectorModel::kBack}) ? small.at(Key{false, FaceDetectorModel::kBack}) : 0, 3);
  const auto small_front = run("3_presentation_attack/zubaircrackscode/zubair_real.webm", 0.0f);
  EXPECT_EQ(small_front.count(Key{false, FaceDetectorModel::kBack}), 0u);
  EXPECT_GE(small_front.count(Key{false, FaceDetectorModel::kFront}) ? small_front.at(Key{false, FaceDetectorModel::kFront}) : 0, 3);
}

// Debian's dlib johns crops (5 people x 11 photos): all 275 genuine pairs
// under 0.6 and all 1210 impostor pairs over it, through the full pipeline
// (detect, mesh, align, describe), not only the descriptor.
TEST_F(FaceAnalyzerTest, JohnsSamePersonCloserThanDifferentPeople) {
  LG_REQUIRE_FILE(kDlibExamples / "johns");
  std::vector<std::pair<std::string, Descriptor>> all;
  for (const auto& person : std::filesystem::directory_iterator(kDlibExamples / "johns")) {
    for (const auto& file : std::filesystem::directory_iterator(person.path())) {
      const auto faces = AnalyzeFile(file.path());
      ASSERT_FALSE(faces.empty()) << file.path();
      ASSERT_TRUE(faces[0].descriptor.has_value());
      all.emplace_back(person.path().filename().string(), *faces[0].descriptor);
    }
  }
  ASSERT_EQ(all.size(), 55u);
  int genuine = 0, impostor = 0, errors = 0;
  float genuine_max = 0, impostor_min = 10;
  for (size_t i = 0; i < all.size(); ++i) {
    for (size_t j = i + 1; j < all.size(); ++j) {
      const Comparison c = CompareDescriptors(all[i].second, all[j].second, kDlibReferenceThreshold);
      const bool same_person = all[i].first == all[j].first;
      (same_person ? genuine : impostor)++;
      if (c.same != same_person) ++errors;
      if (same_person) genuine_max = std::max(genuine_max, c.distance);
      else impostor_min = std::min(impostor_min, c.distance);
    }
  }
  EXPECT_EQ(genuine, 275);
  EXPECT_EQ(impostor, 1210);
  EXPECT_EQ(errors, 0) << "genuine max " << genuine_max << ", impostor min " << impostor_min;
}

// ORL crops (92x112, the face fills the frame): the back model without the
// padded retry gives no face on 13 of 400 and a box under 40 px on 10; with
// it at most 1 % of the 400 fail to acquire (measured 0), and faces the
// first pass missed are found with a descriptor and their box mapped back
// onto the crop. The default (front model first) fails on at most 1 % too.
TEST_F(FaceAnalyzerTest, FaceFillingTheFrameIsFoundByThePaddedRetry) {
  LG_REQUIRE_TEST_DATA("1_face_identity/orl_att");
  AnalyzerOptions o;
  o.model_dir = testing::ModelDir();
  o.detector = DetectorChoice::kBackOnly;
  auto back_retry = FaceAnalyzer::Create(o);
  ASSERT_TRUE(back_retry.ok()) << back_retry.status().ToString();
  o.pad_retry_margin = 0;
  auto no_retry = FaceAnalyzer::Create(o);
  ASSERT_TRUE(no_retry.ok()) << no_retry.status().ToString();
  int images = 0, failures = 0, rescued = 0, default_failures = 0;
  const auto dir = testing::TestDataDir() / "1_face_identity/orl_att";
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".pgm") continue;
    ++images;
    const cv::Mat gray = cv::imread(e.path().string(), cv::IMREAD_GRAYSCALE);
    ASSERT_EQ(gray.size(), cv::Size(92, 112)) << e.path();
    auto d = analyzer_->Analyze(gray);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    if (d->empty() || !(*d)[0].descriptor.has_value()) ++default_failures;
    auto r = (*back_retry)->Analyze(gray);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const bool ok = !r->empty() && (*r)[0].descriptor.has_value();
    if (!ok) ++failures;
    auto before = (*no_retry)->Analyze(gray);
    ASSERT_TRUE(before.ok());
    if (ok && (before->empty() || !(*before)[0].descriptor.has_value())) {
      ++rescued;
      const auto& b = (*r)[0].box;
      // Mapped back: centred on the crop, not on the padded canvas.
      EXPECT_GT(b.x + b.width / 2, 20.f) << e.path();
      EXPECT_LT(b.x + b.width / 2, 72.f) << e.path();
      EXPECT_GT(b.y + b.height / 2, 20.f) << e.path();
      EXPECT_LT(b.y + b.height / 2, 92.f) << e.path();
    }
  }
  EXPECT_EQ(images, 400);
  // Measured 0; 23 without the retry.
  EXPECT_LE(failures, 4) << "FTA above 1 %";
  EXPECT_GE(rescued, 20) << "most of the 23 first-pass failures";
  EXPECT_LE(default_failures, 4) << "FTA above 1 % with the front model first";
  std::printf("[orl] back_only: %d failures (%d rescued by the padded retry); front_then_back: %d failures\n", failures,
              rescued, default_failures);
}

}  // namespace
}  // namespace livegate::vision
