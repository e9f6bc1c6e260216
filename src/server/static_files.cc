#include "server/static_files.h"

#include <fstream>
#include <sstream>
#include <system_error>

namespace livegate::server {
namespace {

// 'self' only: scripts are ES modules from /app/, no inline script or
// style attribute, no eval, no third-party origin; camera frames stay in
// the page (media-src for the preview, blob:/data: for canvas snapshots).
constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void AddSecurityHeaders(ApiResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", kCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
  r.headers.emplace_back("Permissions-Policy", "camera=(self), microphone=(), geolocation=()");
}

ApiResponse NotFound(const std::string& path) {
  auto r = ErrorResponse(Status::NotFound("static.not_found", "no such file: " + path.substr(0, 200)));
  AddSecurityHeaders(r);
  return r;
}

// Each segment: starts with a letter, digit or underscore (so no "." or
// "..", no hidden files), then letters, digits, '.', '_' or '-'.
bool SafeRelativePath(const std::string& rel) {
  if (rel.empty() || rel.size() > 256) return false;
  bool segment_start = true;
  for (char c : rel) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c == '/') {
      if (segment_start) return false;  // empty segment ("//" or leading "/")
      segment_start = true;
      continue;
    }
    if (segment_start) {
      if (!alnum && c != '_') return false;
      segment_start = false;
    } else if (!alnum && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return !segment_start;  // no trailing "/"
}

}  // namespace

const char* const kAppContentSecurityPolicy = kCsp;

std::string StaticContentType(const std::filesystem::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".webmanifest") return "application/manifest+json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "";
}

ApiResponse ServeStaticFile(const StaticFilesOptions& options, const std::string& path) {
  if (path == options.mount) {
    ApiResponse r;
    r.status = 301;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "moved to " + options.mount + "/\n";
    r.headers.emplace_back("Location", options.mount + "/");
    AddSecurityHeaders(r);
    return r;
  }
  const std::string prefix = options.mount + "/";
  if (path.rfind(prefix, 0) != 0) return NotFound(path);
  std::string rel = path.substr(prefix.size());
  if (rel.empty()) rel = "index.html";
  if (!SafeRelativePath(rel)) return NotFound(path);
  const std::filesystem::path file = options.root / rel;
  const std::string type = StaticContentType(file);
  if (type.empty()) return NotFound(path);
  // A symlink inside the folder must not lead out of it.
  std::error_code ec;
  const auto root = std::filesystem::canonical(options.root, ec);
  if (ec) return NotFound(path);
  const auto real = std::filesystem::canonical(file, ec);
  if (ec || !std::filesystem::is_regular_file(real, ec)) return NotFound(path);
  const auto inside = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
  if (inside.first != root.end()) return NotFound(path);
  const auto size = std::filesystem::file_size(real, ec);
  if (ec) return NotFound(path);
  if (size > options.max_file_bytes) {
    auto r = ErrorResponse(Status::TooLarge("static.too_large", "file too large to serve"));
    AddSecurityHeaders(r);
    return r;
  }
  std::ifstream in(real, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) return NotFound(path);
  ApiResponse r;
  r.status = 200;
  r.content_type = type;
  r.body = ss.str();
  AddSecurityHeaders(r);
  return r;
}

void RegisterStaticFiles(HttpServer& http, StaticFilesOptions options) {
  const std::string pattern = options.mount + "(/.*)?";
  http.Route("GET", pattern, [options = std::move(options)](const ApiRequest& r) {
    return ServeStaticFile(options, r.path);
  });
}

}  // namespace livegate::server
