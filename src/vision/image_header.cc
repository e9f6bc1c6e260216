// Header parsing for the formats OpenCV 4.6 decodes here (JPEG, PNG, BMP,
// PNM, WebP, TIFF) plus GIF (recognised so it gets a clear refusal). Every
// read is bounds-checked: the input is untrusted.
#include "vision/image_header.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <string>

namespace livegate::vision {
namespace {

using Bytes = std::span<const std::uint8_t>;

std::uint16_t Be16(Bytes b, size_t i) { return static_cast<std::uint16_t>(b[i] << 8 | b[i + 1]); }
std::uint32_t Be32(Bytes b, size_t i) {
  return std::uint32_t{b[i]} << 24 | std::uint32_t{b[i + 1]} << 16 | std::uint32_t{b[i + 2]} << 8 |
         b[i + 3];
}
std::uint16_t Le16(Bytes b, size_t i) { return static_cast<std::uint16_t>(b[i] | b[i + 1] << 8); }
std::uint32_t Le32(Bytes b, size_t i) {
  return std::uint32_t{b[i]} | std::uint32_t{b[i + 1]} << 8 | std::uint32_t{b[i + 2]} << 16 |
         std::uint32_t{b[i + 3]} << 24;
}
bool StartsWith(Bytes b, const char* magic, size_t n) {
  return b.size() >= n && std::memcmp(b.data(), magic, n) == 0;
}

Status Truncated(std::string_view what) {
  return Status::BadInput("image.truncated", std::string(what) + " header ends before the image size");
}
Status Corrupt(std::string_view what, std::string_view detail) {
  return Status::BadInput("image.corrupt", std::string(what) + " header is corrupt: " + std::string(detail));
}

// A TIFF structure (a .tif file, or the payload of an EXIF block). Reads
// width (256), height (257) and orientation (274) from IFD0.
struct TiffTags {
  std::optional<std::uint32_t> width, height;
  int orientation = 1;
};
std::optional<TiffTags> ParseTiffIfd0(Bytes t) {
  if (t.size() < 8) return std::nullopt;
  bool le;
  if (t[0] == 'I' && t[1] == 'I') {
    le = true;
  } else if (t[0] == 'M' && t[1] == 'M') {
    le = false;
  } else {
    return std::nullopt;
  }
  auto u16 = [&](size_t i) { return le ? Le16(t, i) : Be16(t, i); };
  auto u32 = [&](size_t i) { return le ? Le32(t, i) : Be32(t, i); };
  if (u16(2) != 42) return std::nullopt;
  const std::uint32_t ifd = u32(4);
  if (ifd > t.size() - 2) return std::nullopt;
  const std::uint16_t n = u16(ifd);
  TiffTags tags;
  for (std::uint32_t k = 0; k < n; ++k) {
    const size_t e = size_t{ifd} + 2 + size_t{k} * 12;
    if (e + 12 > t.size()) break;
    const std::uint16_t tag = u16(e), type = u16(e + 2);
    // SHORT values sit in the first two bytes of the value field.
    std::uint32_t value;
    if (type == 3) {
      value = u16(e + 8);
    } else if (type == 4) {
      value = u32(e + 8);
    } else {
      continue;
    }
    if (tag == 256) tags.width = value;
    if (tag == 257) tags.height = value;
    if (tag == 274 && value >= 1 && value <= 8) tags.orientation = static_cast<int>(value);
  }
  return tags;
}

Result<ImageHeader> ParseJpeg(Bytes b) {
  ImageHeader h{ImageFormat::kJpeg};
  bool have_sof = false;
  size_t pos = 2;
  while (true) {
    if (pos >= b.size()) return Truncated("JPEG");
    if (b[pos] != 0xFF) return Corrupt("JPEG", "expected a marker");
    while (pos < b.size() && b[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= b.size()) return Truncated("JPEG");
    const std::uint8_t m = b[pos++];
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
    if (m == 0xD9) return Corrupt("JPEG", "end of image before any scan");
    if (pos + 2 > b.size()) return Truncated("JPEG");
    const std::uint16_t len = Be16(b, pos);
    if (len < 2) return Corrupt("JPEG", "segment length below 2");
    if (pos + len > b.size()) {
      if (have_sof) break;  // header known; the data is cut short below
      return Truncated("JPEG");
    }
    const Bytes seg = b.subspan(pos + 2, len - 2);
    if (m == 0xE1 && seg.size() > 6 && std::memcmp(seg.data(), "Exif\0\0", 6) == 0) {
      if (auto tags = ParseTiffIfd0(seg.subspan(6))) h.exif_orientation = tags->orientation;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC).
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      if (seg.size() < 6) return Corrupt("JPEG", "short frame header");
      h.height = Be16(seg, 1);
      h.width = Be16(seg, 3);
      if (h.width == 0 || h.height == 0) return Corrupt("JPEG", "zero width or height");
      have_sof = true;
    }
    pos += len;
    if (m == 0xDA) {
      if (!have_sof) return Corrupt("JPEG", "scan before frame header");
      break;
    }
  }
  // Entropy-coded data stuffs 0xFF as FF 00, so FF D9 after the first scan
  // is the end-of-image marker; without it the file was cut short.
  // Every later scan starts with FF DA (never inside entropy-coded data).
  bool eoi = false;
  h.jpeg_scans = 1;
  for (size_t i = pos; i + 1 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xDA) ++h.jpeg_scans;
    if (b[i] == 0xFF && b[i + 1] == 0xD9) {
      eoi = true;
      break;
    }
  }
  h.truncated = !eoi;
  return h;
}

Result<ImageHeader> ParsePng(Bytes b) {
  ImageHeader h{ImageFormat::kPng};
  if (b.size() < 8 + 8 + 13) return Truncated("PNG");
  if (Be32(b, 8) != 13 || std::memcmp(b.data() + 12, "IHDR", 4) != 0) {
    return Corrupt("PNG", "first chunk is not IHDR");
  }
  h.width = Be32(b, 16);
  h.height = Be32(b, 20);
  if (h.width == 0 || h.height == 0) return Corrupt("PNG", "zero width or height");
  size_t pos = 8;
  bool iend = false;
  while (pos + 8 <= b.size()) {
    const std::uint64_t len = Be32(b, pos);
    const std::uint64_t next = pos + 12 + len;
    if (next > b.size()) break;
    if (std::memcmp(b.data() + pos + 4, "eXIf", 4) == 0) {
      if (auto tags = ParseTiffIfd0(b.subspan(pos + 8, static_cast<size_t>(len)))) {
        h.exif_orientation = tags->orientation;
      }
    }
    if (std::memcmp(b.data() + pos + 4, "IEND", 4) == 0) {
      iend = true;
      break;
    }
    pos = static_cast<size_t>(next);
  }
  h.truncated = !iend;
  return h;
}

Result<ImageHeader> ParseBmp(Bytes b) {
  ImageHeader h{ImageFormat::kBmp};
  if (b.size() < 26) return Truncated("BMP");
  const std::uint32_t file_size = Le32(b, 2);
  const std::uint32_t dib = Le32(b, 14);
  if (dib == 12) {
    h.width = Le16(b, 18);
    h.height = Le16(b, 20);
  } else if (dib >= 40) {
    const auto w = static_cast<std::int32_t>(Le32(b, 18));
    const auto hh = static_cast<std::int32_t>(Le32(b, 22));
    if (w <= 0 || hh == 0 || hh == INT32_MIN) return Corrupt("BMP", "bad width or height");
    h.width = static_cast<std::uint32_t>(w);
    h.height = static_cast<std::uint32_t>(hh < 0 ? -hh : hh);
  } else {
    return Corrupt("BMP", "unknown DIB header size");
  }
  if (h.width == 0 || h.height == 0) return Corrupt("BMP", "zero width or height");
  h.truncated = file_size > b.size();
  return h;
}

Result<ImageHeader> ParsePnm(Bytes b) {
  ImageHeader h{ImageFormat::kPnm};
  const char kind = static_cast<char>(b[1]);
  size_t pos = 2;
  auto next_number = [&]() -> std::optional<std::uint64_t> {
    while (pos < b.size()) {
      if (b[pos] == '#') {
        while (pos < b.size() && b[pos] != '\n' && b[pos] != '\r') ++pos;
      } else if (std::isspace(b[pos])) {
        ++pos;
      } else {
        break;
      }
    }
    if (pos >= b.size() || !std::isdigit(b[pos])) return std::nullopt;
    std::uint64_t v = 0;
    while (pos < b.size() && std::isdigit(b[pos])) {
      v = v * 10 + (b[pos++] - '0');
      if (v > 0xFFFFFFFFull) return std::nullopt;
    }
    return v;
  };
  const bool bitmap = kind == '1' || kind == '4';
  const auto w = next_number();
  const auto hh = next_number();
  const auto maxval = bitmap ? std::optional<std::uint64_t>(1) : next_number();
  if (!w || !hh || !maxval) {
    return pos >= b.size() ? Truncated("PNM") : Corrupt("PNM", "bad width, height or maxval");
  }
  if (*w == 0 || *hh == 0 || *maxval == 0 || *maxval > 65535) {
    return Corrupt("PNM", "zero size or bad maxval");
  }
  h.width = static_cast<std::uint32_t>(*w);
  h.height = static_cast<std::uint32_t>(*hh);
  if (kind >= '4') {  // binary: one whitespace byte, then exactly the samples
    const std::uint64_t channels = kind == '6' ? 3 : 1;
    const std::uint64_t bps = *maxval > 255 ? 2 : 1;
    const std::uint64_t need = kind == '4' ? (*w + 7) / 8 * *hh : *w * *hh * channels * bps;
    h.truncated = pos + 1 + need > b.size();
  }
  return h;
}

Result<ImageHeader> ParseWebp(Bytes b) {
  ImageHeader h{ImageFormat::kWebp};
  if (b.size() < 30) return Truncated("WebP");
  const Bytes c = b.subspan(12);
  if (std::memcmp(c.data(), "VP8X", 4) == 0) {
    h.width = 1 + (c[12] | c[13] << 8 | c[14] << 16);
    h.height = 1 + (c[15] | c[16] << 8 | c[17] << 16);
  } else if (std::memcmp(c.data(), "VP8 ", 4) == 0) {
    if (c[11] != 0x9D || c[12] != 0x01 || c[13] != 0x2A) return Corrupt("WebP", "bad VP8 start code");
    h.width = Le16(c, 14) & 0x3FFF;
    h.height = Le16(c, 16) & 0x3FFF;
  } else if (std::memcmp(c.data(), "VP8L", 4) == 0) {
    if (c[8] != 0x2F) return Corrupt("WebP", "bad VP8L signature");
    const std::uint32_t bits = Le32(c, 9);
    h.width = 1 + (bits & 0x3FFF);
    h.height = 1 + ((bits >> 14) & 0x3FFF);
  } else {
    return Corrupt("WebP", "unknown first chunk");
  }
  if (h.width == 0 || h.height == 0) return Corrupt("WebP", "zero width or height");
  h.truncated = std::uint64_t{Le32(b, 4)} + 8 > b.size();
  return h;
}

Result<ImageHeader> ParseTiff(Bytes b) {
  ImageHeader h{ImageFormat::kTiff};
  const auto tags = ParseTiffIfd0(b);
  if (!tags) return Truncated("TIFF");
  if (!tags->width || !tags->height) {
    return Corrupt("TIFF", "no width or height tag in the first directory");
  }
  h.width = *tags->width;
  h.height = *tags->height;
  h.exif_orientation = tags->orientation;
  if (h.width == 0 || h.height == 0) return Corrupt("TIFF", "zero width or height");
  return h;
}

Result<ImageHeader> ParseGif(Bytes b) {
  ImageHeader h{ImageFormat::kGif};
  if (b.size() < 10) return Truncated("GIF");
  h.width = Le16(b, 6);
  h.height = Le16(b, 8);
  return h;
}

}  // namespace

std::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kPnm: return "PNM";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kTiff: return "TIFF";
    case ImageFormat::kGif: return "GIF";
  }
  return "?";
}

std::optional<ImageFormat> SniffImageFormat(std::span<const std::uint8_t> b) {
  if (StartsWith(b, "\xFF\xD8\xFF", 3)) return ImageFormat::kJpeg;
  if (StartsWith(b, "\x89PNG\r\n\x1A\n", 8)) return ImageFormat::kPng;
  if (StartsWith(b, "BM", 2)) return ImageFormat::kBmp;
  if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' && std::isspace(b[2])) return ImageFormat::kPnm;
  if (b.size() >= 12 && StartsWith(b, "RIFF", 4) && std::memcmp(b.data() + 8, "WEBP", 4) == 0) {
    return ImageFormat::kWebp;
  }
  if (StartsWith(b, "II*\0", 4) || StartsWith(b, "MM\0*", 4)) return ImageFormat::kTiff;
  if (StartsWith(b, "GIF87a", 6) || StartsWith(b, "GIF89a", 6)) return ImageFormat::kGif;
  return std::nullopt;
}

Result<ImageHeader> ReadImageHeader(std::span<const std::uint8_t> b) {
  if (StartsWith(b, "\xFF\xD8\xFF", 3)) return ParseJpeg(b);
  if (StartsWith(b, "\x89PNG\r\n\x1A\n", 8)) return ParsePng(b);
  if (StartsWith(b, "BM", 2) && b.size() >= 18) return ParseBmp(b);
  if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' && std::isspace(b[2])) {
    return ParsePnm(b);
  }
  if (b.size() >= 16 && StartsWith(b, "RIFF", 4) && std::memcmp(b.data() + 8, "WEBP", 4) == 0) {
    return ParseWebp(b);
  }
  if (StartsWith(b, "II*\0", 4) || StartsWith(b, "MM\0*", 4)) return ParseTiff(b);
  if (StartsWith(b, "GIF87a", 6) || StartsWith(b, "GIF89a", 6)) return ParseGif(b);
  return Status::Unsupported("image.unknown_format",
                             "not a recognised image (JPEG, PNG, BMP, PNM, WebP or TIFF expected)");
}

}  // namespace livegate::vision
