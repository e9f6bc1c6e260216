// Bad and odd input to image/video decoding: each gets its specific reason
// (image.*, video.*) or a normalised 8-bit BGR image. Odd formats are made at
// test time with OpenCV; real files come from the shared test data.
#include "vision/image_io.h"

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "support/test_data.h"

namespace livegate::vision {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes Encode(const cv::Mat& m, const std::string& ext, const std::vector<int>& params = {}) {
  Bytes out;
  EXPECT_TRUE(cv::imencode(ext, m, out, params)) << ext;
  return out;
}

// A colour test card: distinct quadrants, so rotations and flips show.
cv::Mat TestCard(int w = 64, int h = 48) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(0, 0, 0));
  m(cv::Rect(0, 0, w / 2, h / 2)).setTo(cv::Scalar(0, 0, 255));
  m(cv::Rect(w / 2, 0, w - w / 2, h / 2)).setTo(cv::Scalar(0, 255, 0));
  m(cv::Rect(0, h / 2, w / 2, h - h / 2)).setTo(cv::Scalar(255, 0, 0));
  m(cv::Rect(w / 2, h / 2, w - w / 2, h - h / 2)).setTo(cv::Scalar(255, 255, 255));
  return m;
}

void PutBe32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

// A PNG made only of a signature, an IHDR claiming w x h, and IEND: a
// "decompression bomb" header with no pixel data at all.
Bytes PngHeaderOnly(std::uint32_t w, std::uint32_t h) {
  Bytes b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  PutBe32(b, 13);
  for (char c : std::string("IHDR")) b.push_back(c);
  PutBe32(b, w);
  PutBe32(b, h);
  for (std::uint8_t x : {8, 2, 0, 0, 0}) b.push_back(x);
  PutBe32(b, 0);  // CRC (never checked: refused before decoding)
  PutBe32(b, 0);
  for (char c : std::string("IEND")) b.push_back(c);
  PutBe32(b, 0xAE426082);
  return b;
}

// Inserts an EXIF APP1 segment (little-endian TIFF, IFD0 with Orientation)
// right after the JPEG SOI marker.
Bytes WithExifOrientation(const Bytes& jpeg, std::uint16_t orientation) {
  Bytes tiff = {'I', 'I', 42, 0, 8, 0, 0, 0,                       // header, IFD0 at 8
                1, 0,                                               // one entry
                0x12, 0x01, 3, 0, 1, 0, 0, 0,                       // tag 274, SHORT, count 1
                static_cast<std::uint8_t>(orientation), 0, 0, 0,    // value
                0, 0, 0, 0};                                        // no next IFD
  Bytes payload = {'E', 'x', 'i', 'f', 0, 0};
  payload.insert(payload.end(), tiff.begin(), tiff.end());
  const std::uint16_t len = static_cast<std::uint16_t>(payload.size() + 2);
  Bytes out = {0xFF, 0xD8, 0xFF, 0xE1, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

std::filesystem::path WriteFile(const std::filesystem::path& dir, const std::string& name, const Bytes& b) {
  const auto p = dir / name;
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()),
                                           static_cast<std::streamsize>(b.size()));
  return p;
}

// Mean absolute difference per channel value, for lossy codecs.
double MeanDiff(const cv::Mat& a, const cv::Mat& b) {
  return cv::norm(a, b, cv::NORM_L1) / static_cast<double>(a.total() * a.channels());
}

TEST(DecodeImageTest, EmptyInputIsImageEmpty) {
  const auto r = DecodeImage({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "image.empty");
  EXPECT_EQ(r.status().code(), StatusCode::kBadInput);
}

TEST(DecodeImageTest, OverByteLimitIsRefused) {
  const Bytes png = Encode(TestCard(), ".png");
  ImageLimits limits;
  limits.max_bytes = png.size() - 1;
  const auto r = DecodeImage(png, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "image.too_large_bytes");
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
}

// Issue 12, finding 8: a JPEG-only caller refuses BMP, PNM, TIFF, WebP and
// GIF on their magic bytes - even a header that would not parse - and
// still decodes JPEG.
TEST(DecodeImageTest, FormatsOutsideTheAllowedSetAreRefusedBeforeDecoding) {
  ImageLimits jpeg_only;
  jpeg_only.formats = kImageJpeg;
  for (const char* ext : {".bmp", ".ppm", ".tiff", ".webp", ".png"}) {
    const auto r = DecodeImage(Encode(TestCard(), ext), jpeg_only);
    ASSERT_FALSE(r.ok()) << ext;
    EXPECT_EQ(r.status().reason(), "image.format_not_allowed") << ext;
    EXPECT_NE(r.status().message().find("(JPEG only)"), std::string::npos) << r.status().message();
  }
  // A broken BMP header: the format is named, its header never parsed.
  const Bytes broken_bmp = {'B', 'M', 0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const auto b = DecodeImage(broken_bmp, jpeg_only);
  EXPECT_EQ(b.status().reason(), "image.format_not_allowed");
  EXPECT_NE(b.status().message().find("BMP images are not accepted"), std::string::npos) << b.status().message();
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 10, 0, 10, 0, 0, 0, 0, ';'};
  EXPECT_EQ(DecodeImage(gif, jpeg_only).status().reason(), "image.format_not_allowed");
  EXPECT_TRUE(DecodeImage(Encode(TestCard(), ".jpg"), jpeg_only).ok());
  // JPEG and PNG (the admin import): PNG decodes, WebP does not.
  ImageLimits jpeg_png;
  jpeg_png.formats = kImageJpeg | kImagePng;
  EXPECT_TRUE(DecodeImage(Encode(TestCard(), ".png"), jpeg_png).ok());
  const auto w = DecodeImage(Encode(TestCard(), ".webp"), jpeg_png);
  EXPECT_EQ(w.status().reason(), "image.format_not_allowed");
  EXPECT_NE(w.status().message().find("(JPEG, PNG only)"), std::string::npos) << w.status().message();
}

TEST(DecodeImageTest, TextFileIsUnknownFormat) {
  const std::string text = "This is a plain text file, not an image.\n";
  const auto r = DecodeImage(Bytes(text.begin(), text.end()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "image.unknown_format");
}

TEST(DecodeImageTest, TruncatedJpegIsTruncated) {
  Bytes jpeg = Encode(TestCard(320, 240), ".jpg");
  jpeg.resize(jpeg.size() / 2);
  const auto r = DecodeImage(jpeg);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "image.truncated");
}

TEST(DecodeImageTest, JpegCutInsideItsHeaderIsTruncated) {
  Bytes jpeg = Encode(TestCard(320, 240), ".jpg");
  jpeg.resize(40);
  const auto r = DecodeImage(jpeg);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "image.truncated");
}

TEST(DecodeImageTest, TruncatedPngIsTruncated) {
  Bytes png = Encode(TestCard(320, 240), ".png");
  png.resize(png.size() - 20);  // IEND lost
  const auto r = DecodeImage(png);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "image.truncated");
}

TEST(DecodeImageTest, CorruptPngDataIsCorrupt) {
  cv::Mat noise(120, 160, CV_8UC3);
  cv::randu(noise, 0, 255);
  Bytes png = Encode(noise, ".png");
  // Flip bytes in the middle of the compressed data: zlib / CRC fail.
  for (size_t i = png.size() / 2; i < png.size() / 2 + 64; ++i) png[i] ^= 0x5A;
  const auto r = DecodeImage(png);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "image.corrupt");
}

TEST(DecodeImageTest, JpegSignatureFollowedByGarbageIsCorrupt) {
  Bytes b = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0x12, 0x34, 0x56};
  const auto r = DecodeImage(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "image.corrupt");
}

TEST(DecodeImageTest, PixelLimitIsCheckedBeforeDecoding) {
  // 100000 x 100000 claimed by a 57-byte file with no pixel data: a decoder
  // would need 30 GB. Refused from the header, without touching a decoder
  // (which would have reported a truncated/corrupt file, not the size).
  const Bytes bomb = PngHeaderOnly(100000, 100000);
  ASSERT_LT(bomb.size(), 64u);
  const auto start = std::chrono::steady_clock::now();
  const auto r = DecodeImage(bomb);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "image.too_many_pixels");
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
  EXPECT_NE(r.status().message().find("100000x100000"), std::string::npos) << r.status().message();
  EXPECT_LT(elapsed, std::chrono::milliseconds(50));
}

TEST(DecodeImageTest, ConfigurablePixelLimitOnRealJpeg) {
  const Bytes jpeg = Encode(TestCard(320, 240), ".jpg");
  ImageLimits limits;
  limits.max_pixels = 320 * 240 - 1;
  EXPECT_EQ(DecodeImage(jpeg, limits).status().reason(), "image.too_many_pixels");
  limits.max_pixels = 320 * 240;
  EXPECT_TRUE(DecodeImage(jpeg, limits).ok());
}

TEST(DecodeImageTest, GrayscaleBecomesBgr) {
  cv::Mat gray(30, 40, CV_8UC1, cv::Scalar(77));
  const auto r = DecodeImage(Encode(gray, ".png"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type(), CV_8UC3);
  EXPECT_EQ(r->size(), cv::Size(40, 30));
  EXPECT_EQ(r->at<cv::Vec3b>(5, 5), cv::Vec3b(77, 77, 77));
}

TEST(DecodeImageTest, GrayscalePgmBecomesBgr) {
  cv::Mat gray(30, 40, CV_8UC1, cv::Scalar(200));
  const auto r = DecodeImage(Encode(gray, ".pgm"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type(), CV_8UC3);
  EXPECT_EQ(r->at<cv::Vec3b>(0, 0), cv::Vec3b(200, 200, 200));
}

TEST(DecodeImageTest, AlphaIsCompositedOverWhite) {
  cv::Mat bgra(20, 20, CV_8UC4, cv::Scalar(0, 0, 0, 0));          // transparent black
  bgra(cv::Rect(0, 0, 10, 20)).setTo(cv::Scalar(10, 20, 200, 255));  // opaque red-ish half
  const auto r = DecodeImage(Encode(bgra, ".png"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type(), CV_8UC3);
  EXPECT_EQ(r->at<cv::Vec3b>(5, 2), cv::Vec3b(10, 20, 200));
  EXPECT_EQ(r->at<cv::Vec3b>(5, 15), cv::Vec3b(255, 255, 255));
}

TEST(DecodeImageTest, SixteenBitPngIsScaledTo8Bit) {
  cv::Mat m16(10, 12, CV_16UC3, cv::Scalar(65535, 32896, 0));
  const auto r = DecodeImage(Encode(m16, ".png"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type(), CV_8UC3);
  EXPECT_EQ(r->at<cv::Vec3b>(3, 3), cv::Vec3b(255, 128, 0));
}

TEST(DecodeImageTest, SixteenBitGrayPgmIsScaledTo8Bit) {
  cv::Mat m16(10, 12, CV_16UC1, cv::Scalar(257 * 100));
  const auto r = DecodeImage(Encode(m16, ".pgm"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at<cv::Vec3b>(3, 3), cv::Vec3b(100, 100, 100));
}

TEST(DecodeImageTest, EveryHeaderParserReadsTheSize) {
  const cv::Mat card = TestCard(64, 48);
  for (const std::string ext : {".png", ".jpg", ".bmp", ".ppm", ".webp", ".tiff"}) {
    SCOPED_TRACE(ext);
    const Bytes b = Encode(card, ext);
    const auto r = DecodeImage(b);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->size(), card.size());
    EXPECT_LT(MeanDiff(*r, card), 8.0);
    // And each header's size is what the limit sees.
    ImageLimits limits;
    limits.max_pixels = 64 * 48 - 1;
    EXPECT_EQ(DecodeImage(b, limits).status().reason(), "image.too_many_pixels");
  }
}

TEST(DecodeImageTest, GifIsRefusedAsStillImage) {
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 10, 0, 10, 0, 0, 0, 0, ';'};
  EXPECT_EQ(DecodeImage(gif).status().reason(), "image.unknown_format");
}

TEST(DecodeImageTest, ExifOrientationSixIsRotatedClockwise) {
  const cv::Mat card = TestCard(64, 48);
  const Bytes jpeg = WithExifOrientation(Encode(card, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 98}), 6);
  const auto r = DecodeImage(jpeg);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  cv::Mat expected;
  cv::rotate(card, expected, cv::ROTATE_90_CLOCKWISE);
  ASSERT_EQ(r->size(), expected.size());
  EXPECT_LT(MeanDiff(*r, expected), 4.0);
}

TEST(DecodeImageTest, EveryExifOrientationMatchesOpenCvImread) {
  const cv::Mat card = TestCard(64, 48);
  const Bytes plain = Encode(card, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 98});
  for (std::uint16_t o = 1; o <= 8; ++o) {
    SCOPED_TRACE(o);
    const Bytes jpeg = WithExifOrientation(plain, o);
    const auto r = DecodeImage(jpeg);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const cv::Mat reference = cv::imdecode(jpeg, cv::IMREAD_COLOR);  // applies EXIF itself
    ASSERT_EQ(r->size(), reference.size());
    EXPECT_EQ(cv::norm(*r, reference, cv::NORM_INF), 0);
  }
}

// Every prefix of a valid file, and randomly mutated files, in each format:
// never a crash, never an undocumented reason, and a cut file is never
// accepted as a whole image.
const std::set<std::string> kImageReasons = {"image.empty",         "image.too_large_bytes", "image.too_many_pixels",
                                             "image.unknown_format", "image.truncated",       "image.corrupt"};

TEST(DecodeImageRobustnessTest, EveryPrefixIsRefusedWithADocumentedReason) {
  cv::Mat noise(24, 32, CV_8UC3);
  cv::randu(noise, 0, 255);
  for (const std::string ext : {".jpg", ".png", ".bmp", ".ppm", ".webp"}) {
    SCOPED_TRACE(ext);
    const Bytes full = Encode(noise, ext);
    ASSERT_TRUE(DecodeImage(full).ok());
    for (size_t n = 0; n < full.size(); n += std::max<size_t>(1, full.size() / 300)) {
      const auto r = DecodeImage(std::span<const std::uint8_t>(full.data(), n));
      ASSERT_FALSE(r.ok()) << "prefix of " << n << " of " << full.size() << " bytes accepted";
      EXPECT_TRUE(kImageReasons.count(r.status().reason())) << r.status().ToString();
    }
  }
}

TEST(DecodeImageRobustnessTest, MutatedFilesNeverCrash) {
  cv::Mat noise(24, 32, CV_8UC3);
  cv::randu(noise, 0, 255);
  cv::RNG rng(1279);
  int accepted = 0, refused = 0;
  for (const std::string ext : {".jpg", ".png", ".bmp", ".ppm", ".webp", ".tiff"}) {
    SCOPED_TRACE(ext);
    const Bytes full = Encode(noise, ext);
    for (int i = 0; i < 200; ++i) {
      Bytes b = full;
      const int flips = rng.uniform(1, 8);
      for (int k = 0; k < flips; ++k) b[rng.uniform(0, static_cast<int>(b.size()))] = static_cast<std::uint8_t>(rng.uniform(0, 256));
      ImageLimits limits;
      limits.max_pixels = 1 << 20;  // mutated headers may claim huge sizes
      const auto r = DecodeImage(b, limits);
      if (r.ok()) {
        ++accepted;
        EXPECT_EQ(r->type(), CV_8UC3);
        EXPECT_LE(r->total(), limits.max_pixels);
      } else {
        ++refused;
        EXPECT_TRUE(kImageReasons.count(r.status().reason())) << r.status().ToString();
      }
    }
  }
  EXPECT_EQ(accepted + refused, 1200);
  EXPECT_GT(refused, 0);
}

TEST(ReadImageFileTest, MissingFileIsUnreadable) {
  const auto r = ReadImageFile("/nonexistent/livegate/none.jpg");
  EXPECT_EQ(r.status().reason(), "image.unreadable_file");
}

TEST(ReadImageFileTest, EmptyFileIsEmpty) {
  const auto dir = testing::MakeTempDir("image_io");
  const auto r = ReadImageFile(WriteFile(dir, "empty.jpg", {}));
  EXPECT_EQ(r.status().reason(), "image.empty");
  std::filesystem::remove_all(dir);
}

TEST(ReadImageFileTest, RealExifRotatedPhotoIsUpright) {
  LG_REQUIRE_TEST_DATA("3_presentation_attack/silent_face/sf_head_image_T1_real.jpg");
  const auto path = testing::TestDataDir() / "3_presentation_attack/silent_face/sf_head_image_T1_real.jpg";
  const auto r = ReadImageFile(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Stored 640 wide x 480 high with an EXIF rotation: shown portrait.
  EXPECT_EQ(r->size(), cv::Size(480, 640));
  EXPECT_EQ(cv::norm(*r, cv::imread(path.string(), cv::IMREAD_COLOR), cv::NORM_INF), 0);
}

TEST(ReadImageFileTest, Real32BitPngIsBgr) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/_edge/32bit.png");
  const auto r = ReadImageFile(testing::TestDataDir() / "1_face_identity/face_recognition/_edge/32bit.png");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type(), CV_8UC3);
}

TEST(ToBgr8Test, EmptyMatIsRefused) {
  EXPECT_EQ(ToBgr8(cv::Mat()).status().reason(), "image.empty");
}

TEST(ToBgr8Test, FloatImageInUnitRange) {
  cv::Mat f(4, 4, CV_32FC1, cv::Scalar(0.5));
  const auto r = ToBgr8(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at<cv::Vec3b>(0, 0), cv::Vec3b(128, 128, 128));
}

// Videos.
class VideoTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("video_io"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path MakeVideo(int frames, cv::Size size = {160, 120}) {
    const auto p = dir_ / "clip.avi";
    cv::VideoWriter w(p.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, size);
    EXPECT_TRUE(w.isOpened());
    for (int i = 0; i < frames; ++i) {
      cv::Mat f(size, CV_8UC3, cv::Scalar(i * 20 % 255, 100, 50));
      w.write(f);
    }
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(VideoTest, FramesAndTimestamps) {
  const auto p = MakeVideo(5);
  std::vector<double> ts;
  const Status s = ForEachVideoFrame(p, [&](const VideoFrame& f) {
    EXPECT_EQ(f.index, static_cast<int>(ts.size()));
    EXPECT_EQ(f.bgr.type(), CV_8UC3);
    ts.push_back(f.timestamp_ms);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(ts.size(), 5u);
  for (size_t i = 0; i < ts.size(); ++i) EXPECT_NEAR(ts[i], i * 100.0, 1.0);  // 10 fps
}

TEST_F(VideoTest, CallbackStopsEarly) {
  const auto p = MakeVideo(5);
  int n = 0;
  ASSERT_TRUE(ForEachVideoFrame(p, [&](const VideoFrame&) { return ++n < 2; }).ok());
  EXPECT_EQ(n, 2);
}

TEST_F(VideoTest, TooManyFrames) {
  const auto p = MakeVideo(5);
  VideoLimits limits;
  limits.max_frames = 3;
  EXPECT_EQ(ForEachVideoFrame(p, [](const VideoFrame&) { return true; }, limits).reason(),
            "video.too_many_frames");
}

TEST_F(VideoTest, TooManyPixelsPerFrame) {
  const auto p = MakeVideo(2);
  VideoLimits limits;
  limits.max_pixels_per_frame = 160 * 120 - 1;
  int called = 0;
  EXPECT_EQ(ForEachVideoFrame(p, [&](const VideoFrame&) { return ++called > 0; }, limits).reason(),
            "video.too_many_pixels");
  EXPECT_EQ(called, 0);
}

TEST_F(VideoTest, MissingFileIsUnreadable) {
  EXPECT_EQ(ForEachVideoFrame(dir_ / "none.mp4", [](const VideoFrame&) { return true; }).reason(),
            "video.unreadable_file");
}

TEST_F(VideoTest, EmptyFileCannotBeDecoded) {
  const auto p = WriteFile(dir_, "empty.mp4", {});
  EXPECT_EQ(ForEachVideoFrame(p, [](const VideoFrame&) { return true; }).reason(), "video.cannot_decode");
}

TEST_F(VideoTest, RandomBytesCannotBeDecoded) {
  Bytes junk(20000);
  cv::RNG rng(7);
  for (auto& b : junk) b = static_cast<std::uint8_t>(rng.uniform(0, 256));
  const auto p = WriteFile(dir_, "junk.mp4", junk);
  EXPECT_EQ(ForEachVideoFrame(p, [](const VideoFrame&) { return true; }).reason(), "video.cannot_decode");
}

TEST_F(VideoTest, TruncatedMp4CannotBeDecoded) {
  LG_REQUIRE_TEST_DATA("2_face_video/face_recognition_short_hamilton_clip.mp4");
  std::ifstream in(testing::TestDataDir() / "2_face_video/face_recognition_short_hamilton_clip.mp4",
                   std::ios::binary);
  Bytes all((std::istreambuf_iterator<char>(in)), {});
  all.resize(all.size() / 3);
  const auto p = WriteFile(dir_, "cut.mp4", all);
  const Status s = ForEachVideoFrame(p, [](const VideoFrame&) { return true; });
  // The moov box of this file is at its end: cut, nothing can be decoded.
  EXPECT_EQ(s.reason(), "video.cannot_decode") << s.ToString();
}

TEST_F(VideoTest, RealAnimatedGifReadsAllFrames) {
  LG_REQUIRE_TEST_DATA("3_presentation_attack/silent_face/sf_demo_apk_screenrecord.gif");
  int n = 0;
  const Status s = ForEachVideoFrame(
      testing::TestDataDir() / "3_presentation_attack/silent_face/sf_demo_apk_screenrecord.gif",
      [&](const VideoFrame& f) {
        EXPECT_EQ(f.bgr.size(), cv::Size(150, 322));
        ++n;
        return true;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(n, 88);
}

}  // namespace
}  // namespace livegate::vision
