// The optional passive PAD model slot (issue 13; docs/ANTISPOOFING.md
// "Passive model slot"): the crop geometry the MiniFASNet family was trained
// on, the SHA-256 pin (R-SRV-SM-1: a changed model file is refused, never
// run), and - when the evaluation-only models are present - what they say
// on one real live frame and one print attack frame.
//
// The models in ../shared/models/pad may not be shipped (docs/MODELS.md):
// they are read from LIVEGATE_PAD_MODEL_DIR (default ../shared/models/pad
// beside the test data) and the tests that need them SKIP when they are
// absent, also under CI=true: they are not part of the shared test data and
// no setup can install them. A folder named explicitly in
// LIVEGATE_PAD_MODEL_DIR that lacks them is a failure (a misconfigured run
// must not pass silently).
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "support/test_data.h"
#include "vision/face_analyzer.h"
#include "vision/image_io.h"
#include "vision/passive_pad_model.h"

namespace livegate::vision {
namespace {

constexpr const char* kBinModel = "AntiSpoofing_bin_1.5_128.onnx";
constexpr const char* kBinSha256 = "a6c0553fab996a56962baeb0a49013a03c32b866999f6aea76936b6833929bda";

std::filesystem::path PadModelDir() {
  const char* env = std::getenv("LIVEGATE_PAD_MODEL_DIR");
  if (env && *env) return env;
  return livegate::testing::TestDataDir().parent_path() / "models" / "pad";
}

#define LG_REQUIRE_PAD_MODEL()                                                                     \
  do {                                                                                            \
    const auto lg_f_ = PadModelDir() / kBinModel;                                                  \
    if (!std::filesystem::exists(lg_f_)) {                                                         \
      const char* lg_e_ = std::getenv("LIVEGATE_PAD_MODEL_DIR");                                   \
      if (lg_e_ && *lg_e_) FAIL() << "LIVEGATE_PAD_MODEL_DIR is set but holds no " << lg_f_;       \
      GTEST_SKIP() << "evaluation-only PAD model absent (never shipped), skipping: " << lg_f_;     \
    }                                                                                             \
  } while (0)

void WriteBytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

TEST(PassivePadCropTest, SquareOfOneAndAHalfTimesTheLargerSideCentredOnTheBox) {
  const cv::Rect2f r = PassivePadCropRect({10, 20, 40, 60}, 1.5f);
  EXPECT_FLOAT_EQ(r.width, 90.0f);   // 1.5 x the larger side (60)
  EXPECT_FLOAT_EQ(r.height, 90.0f);  // square
  EXPECT_FLOAT_EQ(r.x + r.width / 2, 30.0f);   // centred on the box
  EXPECT_FLOAT_EQ(r.y + r.height / 2, 50.0f);
  const cv::Rect2f wide = PassivePadCropRect({0, 0, 80, 20}, 2.0f);
  EXPECT_FLOAT_EQ(wide.width, 160.0f);
  EXPECT_FLOAT_EQ(wide.x, -40.0f);
  EXPECT_FLOAT_EQ(wide.y, -70.0f);
}

TEST(PassivePadCropTest, OutsideTheImageIsBlackInsideIsTheImage) {
  cv::Mat img(100, 100, CV_8UC3, cv::Scalar(50, 100, 200));
  img(cv::Rect(0, 0, 10, 10)).setTo(cv::Scalar(10, 20, 30));  // a marked corner
  // Box at the top-left corner: the 60x60 crop starts at (-10,-10), so at
  // output size 60 one output pixel = one image pixel, shifted by 10.
  const cv::Mat c = PassivePadCrop(img, {0, 0, 40, 40}, 1.5f, 60);
  ASSERT_EQ(c.size(), cv::Size(60, 60));
  ASSERT_EQ(c.type(), CV_8UC3);
  EXPECT_EQ(c.at<cv::Vec3b>(5, 5), cv::Vec3b(0, 0, 0));    // image (-5,-5): padding
  EXPECT_EQ(c.at<cv::Vec3b>(9, 30), cv::Vec3b(0, 0, 0));   // above the image
  EXPECT_EQ(c.at<cv::Vec3b>(30, 9), cv::Vec3b(0, 0, 0));   // left of it
  EXPECT_EQ(c.at<cv::Vec3b>(10, 10), cv::Vec3b(10, 20, 30));  // image (0,0)
  EXPECT_EQ(c.at<cv::Vec3b>(40, 40), cv::Vec3b(50, 100, 200));  // image (30,30)
  // Resized to 128: crop (-12.5,-12.5) 75x75, output x <-> image
  // -12.5 + x * 75/128, so the image starts at output 21.3.
  const cv::Mat s = PassivePadCrop(img, {0, 0, 50, 50}, 1.5f, 128);
  ASSERT_EQ(s.size(), cv::Size(128, 128));
  EXPECT_EQ(s.at<cv::Vec3b>(10, 10), cv::Vec3b(0, 0, 0));        // image (-6.6,-6.6)
  EXPECT_EQ(s.at<cv::Vec3b>(25, 25), cv::Vec3b(10, 20, 30));     // image (2.1,2.1): the corner
  EXPECT_EQ(s.at<cv::Vec3b>(64, 64), cv::Vec3b(50, 100, 200));   // image (25,25): the box centre
}

TEST(PassivePadPinTest, FileWhoseHashDiffersFromThePinIsRefused) {
  const auto dir = livegate::testing::MakeTempDir("lg_pad_pin");
  const auto file = dir / "model.onnx";
  WriteBytes(file, "not the pinned bytes");
  PassivePadOptions o;
  o.file = file;
  o.sha256 = std::string(64, 'a');
  auto r = ReadPinnedPassivePad(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "model.pin_mismatch");
  EXPECT_NE(r.status().message().find(std::string(64, 'a')), std::string::npos);
  // The right pin (upper case accepted) reads the bytes; cv::dnn then
  // refuses them as a network, with a reason, not a crash.
  const std::string bytes = "not the pinned bytes";
  std::string pin = ModelSha256Hex(std::vector<unsigned char>(bytes.begin(), bytes.end()));
  for (char& ch : pin) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  o.sha256 = pin;
  auto ok = ReadPinnedPassivePad(o);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto net = PassivePadModel::Create(*ok);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.status().reason(), "model.corrupt");
  // A pin that is not a SHA-256, and a missing file.
  o.sha256 = "abc";
  EXPECT_EQ(ReadPinnedPassivePad(o).status().reason(), "model.bad_pin");
  o.sha256 = std::string(64, '0');
  o.file = dir / "absent.onnx";
  EXPECT_EQ(ReadPinnedPassivePad(o).status().reason(), "model.missing_file");
  std::filesystem::remove_all(dir);
}

TEST(PassivePadPinTest, KnownVector) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(ModelSha256Hex({'a', 'b', 'c'}), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// What the evaluation-only model says on one frame, through the analyzer's
// face box (the server's path). Returns -1 when no face was found.
float LiveProbability(PassivePadModel& m, FaceAnalyzer& a, const cv::Mat& bgr) {
  auto faces = a.Analyze(bgr);
  EXPECT_TRUE(faces.ok()) << faces.status().ToString();
  if (!faces.ok() || faces->empty()) return -1;
  auto p = m.LiveProbability(bgr, faces->front().box);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : -1;
}

class PassivePadModelTest : public ::testing::Test {
 protected:
  void Load() {
    PassivePadOptions o;
    o.file = PadModelDir() / kBinModel;
    o.sha256 = kBinSha256;
    auto w = ReadPinnedPassivePad(o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    auto m = PassivePadModel::Create(*w);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(*m);
    AnalyzerOptions ao;
    ao.compute_descriptor = false;
    auto a = FaceAnalyzer::Create(ao);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    analyzer_ = std::move(*a);
  }
  std::unique_ptr<PassivePadModel> model_;
  std::unique_ptr<FaceAnalyzer> analyzer_;
};

// Frames picked before measuring, figures measured once (not tuned): the
// first frame of a real webcam clip, and a photograph of a printed face.
TEST_F(PassivePadModelTest, RealWebcamFrameScoresLivePrintAttackScoresSpoof) {
  LG_REQUIRE_PAD_MODEL();
  LG_REQUIRE_TEST_DATA("3_presentation_attack/silent_face/sf_head_image_F1_print.jpg");
  LG_REQUIRE_TEST_DATA("3_presentation_attack/zubaircrackscode/zubair_real.webm");
  LG_REQUIRE_MODELS();
  ASSERT_NO_FATAL_FAILURE(Load());
  cv::VideoCapture v((livegate::testing::TestDataDir() / "3_presentation_attack/zubaircrackscode/zubair_real.webm").string());
  cv::Mat live;
  ASSERT_TRUE(v.read(live));
  const float p_live = LiveProbability(*model_, *analyzer_, live);
  auto print = ReadImageFile(livegate::testing::TestDataDir() / "3_presentation_attack/silent_face/sf_head_image_F1_print.jpg");
  ASSERT_TRUE(print.ok());
  const float p_print = LiveProbability(*model_, *analyzer_, *print);
  std::cout << "live probability: real webcam frame " << p_live << ", print attack " << p_print << "\n";
  // Measured here: 0.9992 and 0.063 (model decision threshold 0.5).
  EXPECT_GT(p_live, 0.95f);
  EXPECT_GE(p_print, 0.0f);  // a face was found
  EXPECT_LT(p_print, 0.2f);
}

}  // namespace
}  // namespace livegate::vision
