// Reading an encoded image's format, dimensions and EXIF orientation from
// its header, without decoding a pixel: this is what lets image_io refuse a
// decompression bomb (a small file claiming 100000x100000) before OpenCV
// allocates anything. Internal to the vision module.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "livegate/status.h"

namespace livegate::vision {

enum class ImageFormat { kJpeg, kPng, kBmp, kPnm, kWebp, kTiff, kGif };
std::string_view ImageFormatName(ImageFormat format);

struct ImageHeader {
  ImageFormat format = ImageFormat::kJpeg;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  // EXIF orientation 1..8 (1 = as stored). Read from JPEG APP1 and TIFF IFD0.
  int exif_orientation = 1;
  // The file ends before the end marker its format requires (JPEG EOI after
  // the scan, PNG IEND, BMP pixel data size).
  bool truncated = false;
  // JPEG: start-of-scan markers before the end of image. A progressive
  // JPEG costs (scans x blocks) to decode, so a small file with thousands
  // of scans is a CPU bomb (issue 12); image_io refuses it by this count.
  int jpeg_scans = 0;
};

// The format named by the magic bytes alone (nothing else is read);
// nullopt when none matches.
std::optional<ImageFormat> SniffImageFormat(std::span<const std::uint8_t> bytes);

// Reasons: image.unknown_format (not a recognised signature),
// image.truncated (header cut short), image.corrupt (header inconsistent).
Result<ImageHeader> ReadImageHeader(std::span<const std::uint8_t> bytes);

}  // namespace livegate::vision
