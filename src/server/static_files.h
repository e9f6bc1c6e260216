// The browser client's static files at /app/ (docs/WEB.md), served by the
// API server itself so that the pages and the /v1 API share one origin (no
// CORS, the CSP can say 'self'). Deliberately small: GET (and HEAD) only, no
// directory listing, an allow-list of file names and extensions (no path
// traversal, no hidden files, nothing the browser does not need), and
// security headers on every answer of the route:
//   Content-Security-Policy: default-src 'self' ... (no inline script, no CDN)
//   X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer,
//   X-Frame-Options: DENY, Cross-Origin-Opener-Policy: same-origin,
//   Permissions-Policy: camera=(self), microphone=(), geolocation=()
#pragma once

#include <filesystem>
#include <string>

#include "server/http_server.h"

namespace livegate::server {

struct StaticFilesOptions {
  std::filesystem::path root;              // folder served at `mount`
  std::string mount = "/app";              // URL prefix (no trailing slash)
  std::size_t max_file_bytes = 8u << 20;   // larger files are not served
};

// The CSP of the pages (also asserted by tests/browser).
extern const char* const kAppContentSecurityPolicy;

// Content type by extension; empty for an extension that is not served.
std::string StaticContentType(const std::filesystem::path& file);

// Answers one request path under the mount: "<mount>" -> 301 to "<mount>/",
// "<mount>/" -> index.html, "<mount>/a/b.js" -> root/a/b.js. Refusals
// (JSON errors, with the security headers): 404 static.not_found for
// anything not a servable regular file inside root (unknown extension,
// directory, dot-segments, hidden names, characters outside
// [A-Za-z0-9._-/], symlinks leading outside root), 413 static.too_large.
ApiResponse ServeStaticFile(const StaticFilesOptions& options, const std::string& path);

// Routes GET <mount> and GET <mount>/... on `http`.
void RegisterStaticFiles(HttpServer& http, StaticFilesOptions options);

}  // namespace livegate::server
