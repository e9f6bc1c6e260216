// Decoding images and videos from untrusted input, safely: size limits
// checked BEFORE decoding, EXIF orientation honoured, every odd format
// (grayscale, alpha, 16-bit) normalised to 8-bit BGR, and a specific
// Status reason for every way input can be bad.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>

#include <opencv2/core.hpp>

#include "livegate/status.h"

namespace livegate::vision {

// Image formats, as bits of ImageLimits::formats.
inline constexpr std::uint32_t kImageJpeg = 1u << 0;
inline constexpr std::uint32_t kImagePng = 1u << 1;
inline constexpr std::uint32_t kImageBmp = 1u << 2;
inline constexpr std::uint32_t kImagePnm = 1u << 3;
inline constexpr std::uint32_t kImageWebp = 1u << 4;
inline constexpr std::uint32_t kImageTiff = 1u << 5;
inline constexpr std::uint32_t kAnyStillImage =
    kImageJpeg | kImagePng | kImageBmp | kImagePnm | kImageWebp | kImageTiff;

struct ImageLimits {
  std::uint64_t max_bytes = 32ull << 20;     // encoded size
  std::uint64_t max_pixels = 40'000'000;     // width*height, read from the header before decoding
  // Formats accepted, judged on the magic bytes before any header is parsed
  // or pixel decoded (issue 12, finding 8: a server accepting JPEG only
  // must not run the BMP/TIFF/WebP decoders on untrusted bytes).
  std::uint32_t formats = kAnyStillImage;
  // Scans of a (progressive) JPEG: libjpeg walks every block once per scan,
  // so 256 KiB of tiny repeated scans cost seconds of CPU per frame (the
  // progressive-JPEG CPU bomb, docs/RELIABILITY.md). Encoders use at most
  // ~10 (libjpeg's progressive script) to ~20 (mozjpeg); a baseline JPEG has 1.
  int max_jpeg_scans = 64;
};

// Reasons (Status::reason()):
//   image.empty, image.too_large_bytes, image.too_many_pixels, image.too_many_scans,
//   image.unknown_format, image.format_not_allowed (a known format outside
//   limits.formats), image.truncated, image.corrupt, image.unreadable_file
Result<cv::Mat> DecodeImage(std::span<const std::uint8_t> bytes, const ImageLimits& limits = {});
Result<cv::Mat> ReadImageFile(const std::filesystem::path& path, const ImageLimits& limits = {});
// True when `head` (the first bytes of a file; 4 KiB is plenty) starts with
// the signature of a still-image format DecodeImage reads. GIF is not one:
// an (animated) GIF is read with ForEachVideoFrame.
bool HasStillImageSignature(std::span<const std::uint8_t> head);
// Normalise any cv::Mat (gray, BGRA, 16-bit) to 8-bit 3-channel BGR.
Result<cv::Mat> ToBgr8(const cv::Mat& any);

struct VideoFrame {
  cv::Mat bgr;
  int index = 0;
  double timestamp_ms = 0;  // from the container, else index / fps
};
struct VideoLimits {
  std::uint64_t max_pixels_per_frame = 8'000'000;
  int max_frames = 10'000;
};
// Reasons: video.unreadable_file, video.cannot_decode, video.no_frames,
//          video.too_many_pixels, video.too_many_frames
// The callback returns false to stop early.
Status ForEachVideoFrame(const std::filesystem::path& path,
                         const std::function<bool(const VideoFrame&)>& on_frame,
                         const VideoLimits& limits = {});

}  // namespace livegate::vision
