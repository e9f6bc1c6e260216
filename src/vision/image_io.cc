// Safe decoding of untrusted images and videos (R-SRV-QJ-1 needs a sample it
// can trust to have been read correctly; bad input never crashes, it gets a
// specific reason). Size limits are checked on the header, before OpenCV
// allocates anything.
#include "vision/image_io.h"

#include <cmath>
#include <fstream>
#include <system_error>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "vision/image_header.h"
#include "vision/jpeg_decode.h"

namespace livegate::vision {
namespace {

// Same transforms as OpenCV's ApplyExifOrientation (imread applies it, but
// IMREAD_UNCHANGED - needed to see alpha and 16-bit - does not).
void ApplyOrientation(int orientation, cv::Mat& m) {
  switch (orientation) {
    case 2: cv::flip(m, m, 1); break;
    case 3: cv::flip(m, m, -1); break;
    case 4: cv::flip(m, m, 0); break;
    case 5: cv::transpose(m, m); break;
    case 6: cv::transpose(m, m); cv::flip(m, m, 1); break;
    case 7: cv::transpose(m, m); cv::flip(m, m, -1); break;
    case 8: cv::transpose(m, m); cv::flip(m, m, 0); break;
    default: break;
  }
}

// Composite over white: transparent pixels often hold arbitrary colour
// (black is common), which would otherwise show as a dark background.
cv::Mat CompositeOverWhite(const cv::Mat& bgr, const cv::Mat& alpha8) {
  double min_alpha = 255;
  cv::minMaxLoc(alpha8, &min_alpha);
  if (min_alpha >= 255) return bgr;
  cv::Mat out(bgr.size(), CV_8UC3);
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* p = bgr.ptr<cv::Vec3b>(y);
    const auto* a = alpha8.ptr<std::uint8_t>(y);
    auto* o = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      const int w = a[x];
      for (int c = 0; c < 3; ++c) o[x][c] = static_cast<std::uint8_t>((p[x][c] * w + 255 * (255 - w) + 127) / 255);
    }
  }
  return out;
}

}  // namespace

Result<cv::Mat> ToBgr8(const cv::Mat& any) {
  if (any.empty()) return Status::InvalidArgument("image.empty", "empty image");
  cv::Mat m8;
  switch (any.depth()) {
    case CV_8U: m8 = any; break;
    case CV_8S: any.convertTo(m8, CV_8U, 1.0, 128.0); break;
    case CV_16U: any.convertTo(m8, CV_8U, 1.0 / 257.0); break;
    case CV_16S: any.convertTo(m8, CV_8U, 1.0 / 257.0, 32768.0 / 257.0); break;
    case CV_32F:
    case CV_64F: any.convertTo(m8, CV_8U, 255.0); break;  // float images are [0,1]
    default:
      return Status::Unsupported("image.unknown_format", "unsupported pixel depth");
  }
  cv::Mat out;
  switch (m8.channels()) {
    case 1: cv::cvtColor(m8, out, cv::COLOR_GRAY2BGR); return out;
    case 3: return m8;
    case 2: {
      cv::Mat planes[2];
      cv::split(m8, planes);
      cv::Mat bgr;
      cv::cvtColor(planes[0], bgr, cv::COLOR_GRAY2BGR);
      return CompositeOverWhite(bgr, planes[1]);
    }
    case 4: {
      cv::Mat bgr, alpha;
      cv::cvtColor(m8, bgr, cv::COLOR_BGRA2BGR);
      cv::extractChannel(m8, alpha, 3);
      return CompositeOverWhite(bgr, alpha);
    }
    default:
      return Status::Unsupported("image.unknown_format",
                                 "unsupported channel count " + std::to_string(m8.channels()));
  }
}

Result<cv::Mat> DecodeImage(std::span<const std::uint8_t> bytes, const ImageLimits& limits) {
  if (bytes.empty()) return Status::BadInput("image.empty", "the image is empty (0 bytes)");
  if (bytes.size() > limits.max_bytes) {
    return Status::TooLarge("image.too_large_bytes",
                            "the image is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                                std::to_string(limits.max_bytes));
  }
  static_assert(kImageJpeg == 1u << static_cast<unsigned>(ImageFormat::kJpeg) &&
                kImageTiff == 1u << static_cast<unsigned>(ImageFormat::kTiff));
  if (const auto format = SniffImageFormat(bytes); format) {
    // GIF has no bit: refused as "not allowed" where formats are restricted,
    // with its own reason (read it as a video) otherwise.
    const std::uint32_t bit = *format == ImageFormat::kGif ? 0u : 1u << static_cast<unsigned>(*format);
    const bool restricted = limits.formats != kAnyStillImage;
    if ((limits.formats & bit) == 0 && (bit != 0 || restricted)) {
      std::string allowed;
      for (ImageFormat f : {ImageFormat::kJpeg, ImageFormat::kPng, ImageFormat::kBmp, ImageFormat::kPnm,
                            ImageFormat::kWebp, ImageFormat::kTiff}) {
        if (limits.formats & (1u << static_cast<unsigned>(f))) {
          allowed += std::string(allowed.empty() ? "" : ", ") + std::string(ImageFormatName(f));
        }
      }
      return Status::BadInput("image.format_not_allowed",
                              std::string(ImageFormatName(*format)) + " images are not accepted here (" +
                                  (allowed.empty() ? std::string("none") : allowed) + " only)");
    }
  }
  LG_ASSIGN_OR_RETURN(const ImageHeader header, ReadImageHeader(bytes));
  if (header.format == ImageFormat::kGif) {
    // OpenCV 4.6 has no GIF image decoder; animated GIFs are read as video.
    return Status::Unsupported("image.unknown_format",
                               "GIF is not supported as a still image (read it as a video)");
  }
  const std::uint64_t pixels = std::uint64_t{header.width} * header.height;
  if (pixels > limits.max_pixels) {
    return Status::TooLarge("image.too_many_pixels",
                            std::string(ImageFormatName(header.format)) + " header says " +
                                std::to_string(header.width) + "x" + std::to_string(header.height) +
                                ", over the limit of " + std::to_string(limits.max_pixels) + " pixels");
  }
  if (header.format == ImageFormat::kJpeg && header.jpeg_scans > limits.max_jpeg_scans) {
    return Status::TooLarge("image.too_many_scans",
                            "JPEG has " + std::to_string(header.jpeg_scans) + " scans, over the limit of " +
                                std::to_string(limits.max_jpeg_scans));
  }
  if (header.truncated) {
    return Status::BadInput("image.truncated", std::string(ImageFormatName(header.format)) +
                                                   " file is cut short (no end marker)");
  }
  if (header.format == ImageFormat::kJpeg) {
    // The client's frames: straight to BGR, the same pixels as imdecode
    // (jpeg_decode.h); anything else about the file goes the OpenCV way.
    if (std::optional<cv::Mat> bgr = DecodeCommonJpegToBgr(bytes, limits.max_pixels)) {
      ApplyOrientation(header.exif_orientation, *bgr);
      return std::move(*bgr);
    }
  }
  cv::Mat decoded;
  try {
    // A header over the bytes, no copy. imdecode does not modify its input.
    const cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8U, const_cast<std::uint8_t*>(bytes.data()));
    decoded = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    return Status::BadInput("image.corrupt", std::string(ImageFormatName(header.format)) +
                                                 " data could not be decoded: " + e.what());
  }
  if (decoded.empty()) {
    return Status::BadInput("image.corrupt",
                            std::string(ImageFormatName(header.format)) + " data could not be decoded");
  }
  if (std::uint64_t(decoded.total()) > limits.max_pixels) {  // a header that lied
    return Status::TooLarge("image.too_many_pixels", "decoded image is over the pixel limit");
  }
  LG_ASSIGN_OR_RETURN(cv::Mat bgr, ToBgr8(decoded));
  ApplyOrientation(header.exif_orientation, bgr);
  return bgr;
}

bool HasStillImageSignature(std::span<const std::uint8_t> head) {
  const auto h = ReadImageHeader(head);
  if (h.ok()) return h->format != ImageFormat::kGif;
  return h.status().reason() != "image.unknown_format";
}

Result<cv::Mat> ReadImageFile(const std::filesystem::path& path, const ImageLimits& limits) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    return Status::NotFound("image.unreadable_file", "cannot read " + path.string() + ": " + ec.message());
  }
  if (size > limits.max_bytes) {
    return Status::TooLarge("image.too_large_bytes", path.string() + " is " + std::to_string(size) +
                                                         " bytes, over the limit of " +
                                                         std::to_string(limits.max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::BadInput("image.unreadable_file", "cannot open " + path.string());
  std::vector<std::uint8_t> bytes(size);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    return Status::BadInput("image.unreadable_file", "cannot read " + path.string());
  }
  return DecodeImage(bytes, limits);
}

Status ForEachVideoFrame(const std::filesystem::path& path,
                         const std::function<bool(const VideoFrame&)>& on_frame,
                         const VideoLimits& limits) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || !std::ifstream(path, std::ios::binary)) {
    return Status::NotFound("video.unreadable_file",
                            "cannot read " + path.string() + (ec ? ": " + ec.message() : ""));
  }
  if (size == 0) return Status::BadInput("video.cannot_decode", path.string() + " is empty (0 bytes)");
  cv::VideoCapture cap;
  try {
    cap.open(path.string(), cv::CAP_FFMPEG);
  } catch (const cv::Exception& e) {
    return Status::BadInput("video.cannot_decode", "cannot open " + path.string() + ": " + e.what());
  }
  if (!cap.isOpened()) {
    return Status::BadInput("video.cannot_decode",
                            path.string() + " is not a video this build can decode (FFmpeg could not open it)");
  }
  const double w = cap.get(cv::CAP_PROP_FRAME_WIDTH), h = cap.get(cv::CAP_PROP_FRAME_HEIGHT);
  auto too_many_pixels = [&](double pw, double ph) {
    return Status::TooLarge("video.too_many_pixels",
                            "video frames are " + std::to_string(static_cast<long long>(pw)) + "x" +
                                std::to_string(static_cast<long long>(ph)) + ", over the limit of " +
                                std::to_string(limits.max_pixels_per_frame) + " pixels");
  };
  if (w * h > static_cast<double>(limits.max_pixels_per_frame)) return too_many_pixels(w, h);
  const double fps = cap.get(cv::CAP_PROP_FPS);
  const double declared_frames = cap.get(cv::CAP_PROP_FRAME_COUNT);
  int index = 0;
  double last_ts = -1;
  cv::Mat raw;
  while (true) {
    bool got;
    try {
      got = cap.read(raw);
    } catch (const cv::Exception& e) {
      return Status::BadInput("video.cannot_decode",
                              "decoding failed at frame " + std::to_string(index) + ": " + e.what());
    }
    if (!got || raw.empty()) break;
    if (index >= limits.max_frames) {
      return Status::TooLarge("video.too_many_frames",
                              "video has more than " + std::to_string(limits.max_frames) + " frames");
    }
    if (raw.total() > limits.max_pixels_per_frame) return too_many_pixels(raw.cols, raw.rows);
    VideoFrame frame;
    LG_ASSIGN_OR_RETURN(frame.bgr, ToBgr8(raw));
    frame.index = index;
    // POS_MSEC is the container's timestamp of the frame just read; some
    // demuxers leave it at 0 (or go backwards): then use index / fps.
    const double ts = cap.get(cv::CAP_PROP_POS_MSEC);
    if (std::isfinite(ts) && ts >= 0 && (index == 0 || ts > last_ts)) {
      frame.timestamp_ms = ts;
    } else {
      frame.timestamp_ms = fps > 0 ? index * 1000.0 / fps : 0.0;
    }
    last_ts = frame.timestamp_ms;
    ++index;
    if (!on_frame(frame)) return Status::Ok();
  }
  if (index == 0) {
    if (declared_frames > 0) {
      return Status::BadInput("video.cannot_decode",
                              path.string() + " declares frames but none could be decoded");
    }
    return Status::BadInput("video.no_frames", path.string() + " contains no video frames");
  }
  return Status::Ok();
}

}  // namespace livegate::vision
