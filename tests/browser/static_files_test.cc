// The /app/ static-file route (src/server/static_files.h, docs/WEB.md):
// GET only, no listing, no traversal (also percent-encoded, through a real
// HTTPS socket), content types, and the security headers on every answer.
#include <fstream>

#include <gtest/gtest.h>
#include <httplib.h>

#include "client/tls_test_util.h"
#include "server/config.h"
#include "server/http_server.h"
#include "server/static_files.h"
#include "support/test_data.h"

namespace livegate::server {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string HeaderOf(const ApiResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class StaticFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = livegate::testing::MakeTempDir("lg-static");
    root_ = base_ / "web";
    Write(root_ / "index.html", "<!doctype html><title>index</title>");
    Write(root_ / "lib" / "api.js", "export const x = 1;\n");
    Write(root_ / "style.css", "body{}");
    Write(root_ / ".hidden.js", "secret");
    Write(root_ / "test" / "a.test.mjs", "test");
    Write(root_ / "notes.md", "notes");
    Write(base_ / "secret.txt", "outside the root");
    fs::create_symlink(base_ / "secret.txt", root_ / "link.txt");
    options_.root = root_;
  }
  void TearDown() override { fs::remove_all(base_); }
  fs::path base_, root_;
  StaticFilesOptions options_;
};

TEST_F(StaticFiles, ServesFilesWithTypesAndSecurityHeaders) {
  struct Case { std::string path, type, body; };
  for (const auto& c : {Case{"/app/", "text/html; charset=utf-8", "<!doctype html><title>index</title>"},
                        Case{"/app/index.html", "text/html; charset=utf-8", "<!doctype html><title>index</title>"},
                        Case{"/app/lib/api.js", "text/javascript; charset=utf-8", "export const x = 1;\n"},
                        Case{"/app/style.css", "text/css; charset=utf-8", "body{}"}}) {
    SCOPED_TRACE(c.path);
    const auto r = ServeStaticFile(options_, c.path);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, c.type);
    EXPECT_EQ(r.body, c.body);
    EXPECT_EQ(HeaderOf(r, "Content-Security-Policy"), kAppContentSecurityPolicy);
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(HeaderOf(r, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
  }
  const std::string csp = kAppContentSecurityPolicy;
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos);
  EXPECT_EQ(csp.find("http"), std::string::npos);  // no third-party origin
}

TEST_F(StaticFiles, MountWithoutSlashRedirects) {
  const auto r = ServeStaticFile(options_, "/app");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(HeaderOf(r, "Location"), "/app/");
}

TEST_F(StaticFiles, RefusesEverythingElseWithNotFound) {
  for (const std::string p : {"/app/lib", "/app/lib/", "/app/../secret.txt", "/app/lib/../index.html",
                              "/app/./index.html", "/app//index.html", "/app/.hidden.js",
                              "/app/test/a.test.mjs", "/app/notes.md", "/app/missing.js",
                              "/app/link.txt", "/app/%2e%2e/secret.txt", "/app/lib\\api.js",
                              "/app/index.html\n", "/apple/index.html", "/app/a b.js"}) {
    SCOPED_TRACE(p);
    const auto r = ServeStaticFile(options_, p);
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find("static.not_found"), std::string::npos) << r.body;
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
  }
}

TEST_F(StaticFiles, TooLargeFileIsRefused) {
  Write(root_ / "big.js", std::string(2048, 'x'));
  options_.max_file_bytes = 1024;
  const auto r = ServeStaticFile(options_, "/app/big.js");
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("static.too_large"), std::string::npos);
}

// Through the real HTTPS transport: httplib decodes %2e%2e and %2f before
// routing, and only GET reaches the files.
TEST_F(StaticFiles, OverRealHttpsNoTraversalAndGetOnly) {
  const auto cert = livegate::testing::MakeSelfSignedCert(base_, "static");
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  HttpServerOptions ho;
  ho.cert_pem = slurp(cert.cert_pem);
  ho.key_pem = slurp(cert.key_pem);
  auto http = HttpServer::Create(ho, nullptr);
  ASSERT_TRUE(http.ok()) << http.status().ToString();
  RegisterStaticFiles(**http, options_);
  ASSERT_TRUE((*http)->Start().ok());
  httplib::SSLClient cli("127.0.0.1", (*http)->port());
  cli.enable_server_certificate_verification(false);  // test certificate generated above
  cli.set_url_encode(false);                            // send the paths exactly as written

  auto ok = cli.Get("/app/lib/api.js");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ok->get_header_value("Content-Security-Policy"), kAppContentSecurityPolicy);
  EXPECT_EQ(ok->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(ok->get_header_value("Referrer-Policy"), "no-referrer");

  for (const std::string p : {"/app/..%2fsecret.txt", "/app/%2e%2e/secret.txt", "/app/%2E%2E%2Fsecret.txt",
                              "/app/lib/..%2f..%2fsecret.txt", "/app/../secret.txt", "/app/lib%2f..%2f..%2fsecret.txt",
                              "/app/link.txt", "/app/%2ehidden.js", "/app/lib/"}) {
    SCOPED_TRACE(p);
    auto r = cli.Get(p);
    ASSERT_TRUE(r);
    EXPECT_NE(r->status, 200);
    EXPECT_EQ(r->body.find("outside the root"), std::string::npos);
  }
  auto post = cli.Post("/app/index.html", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 400);
  EXPECT_NE(post->body.find("http.method_not_allowed"), std::string::npos);
  auto del = cli.Delete("/app/index.html");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 400);
  (*http)->Stop();
}

// Configuration: web.static_dir (relative to the config file), web.enabled,
// the compiled-in default (the repository's web/), unknown keys refused.
TEST(WebConfig, StaticDirEnabledAndDefault) {
  const std::string base = R"({"tls": {"generate": true}, "database": {"uri": "sqlite:x.db"},
                              "master_key": {"env": "K"}, "policy_file": "p.json")";
  auto def = ParseServerConfig(base + "}", "/etc/lg");
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_TRUE(def->web.enabled);
  EXPECT_EQ(def->web.static_dir, livegate::testing::SourceDir() / "web");
  EXPECT_TRUE(fs::exists(def->web.static_dir / "register.html"));
  auto set = ParseServerConfig(base + R"(, "web": {"enabled": false, "static_dir": "../www"}})", "/etc/lg");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_FALSE(set->web.enabled);
  EXPECT_EQ(set->web.static_dir, fs::path("/etc/www"));
  auto bad = ParseServerConfig(base + R"(, "web": {"root": "x"}})", "/etc/lg");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "config.unknown_key");
}

}  // namespace
}  // namespace livegate::server
