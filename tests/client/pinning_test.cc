// R-CLI-SM-1: an unpinned server is refused unless trust is given
// explicitly; a pinned server whose certificate changes is refused.
#include "client/pinning.h"

#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "client/https_client.h"
#include "support/test_data.h"
#include "tls_test_util.h"

namespace livegate::client {
namespace {

class TlsServer {
 public:
  explicit TlsServer(const testing::TestCert& cert)
      : server_(cert.cert_pem.c_str(), cert.key_pem.c_str()) {
    server_.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hi", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~TlsServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::SSLServer server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(PinningTest, ParseServerUrl) {
  auto a = ParseServerUrl("https://127.0.0.1:8443");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8443);
  EXPECT_EQ(ParseServerUrl("https://example.org/")->port, 443);
  EXPECT_EQ(ParseServerUrl("http://127.0.0.1:80").status().reason(), "url.not_https");
  EXPECT_EQ(ParseServerUrl("https://bad host").status().reason(), "url.bad");
  EXPECT_EQ(ParseServerUrl("https://h:99999").status().reason(), "url.bad");
}

TEST(PinningTest, UnpinnedRefusedThenTrustOnFirstUseThenPinHolds) {
  const auto dir = testing::MakeTempDir("lg-pin");
  const auto cert = testing::MakeSelfSignedCert(dir, "server");
  TlsServer server(cert);
  const ServerAddress address{"127.0.0.1", server.port()};
  const auto state = dir / "state";

  auto expected_fp = CertificateFingerprint(*FetchServerCertificatePem(address));
  ASSERT_TRUE(expected_fp.ok());

  auto refused = ResolveTrust(state, address, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "pin.unpinned_server");
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find(*expected_fp), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(PinPath(state, address)));

  TrustOptions tofu;
  tofu.trust_on_first_use = true;
  auto pinned = ResolveTrust(state, address, tofu);
  ASSERT_TRUE(pinned.ok()) << pinned.status().ToString();
  EXPECT_TRUE(pinned->newly_pinned);
  EXPECT_EQ(pinned->fingerprint, *expected_fp);

  // Later runs use the pin without any option.
  auto again = ResolveTrust(state, address, {});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->newly_pinned);
  auto client = HttpsClient::Create(address, *again);
  auto res = client->Get("/hello");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hi");
  std::filesystem::remove_all(dir);
}

TEST(PinningTest, ServerWithAnotherCertificateIsRefused) {
  const auto dir = testing::MakeTempDir("lg-pin2");
  const auto pinned_cert = testing::MakeSelfSignedCert(dir, "pinned");
  const auto impostor_cert = testing::MakeSelfSignedCert(dir, "impostor");
  TlsServer impostor(impostor_cert);
  const ServerAddress address{"127.0.0.1", impostor.port()};
  TrustOptions o;
  o.pin_file = pinned_cert.cert_pem;
  auto trust = ResolveTrust(dir / "state", address, o);
  ASSERT_TRUE(trust.ok()) << trust.status().ToString();
  EXPECT_TRUE(trust->newly_pinned);
  auto res = HttpsClient::Create(address, *trust)->Get("/hello");
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().reason(), "pin.mismatch");
  EXPECT_NE(res.status().message().find(trust->fingerprint), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(PinningTest, PinFileMustHoldACertificate) {
  const auto dir = testing::MakeTempDir("lg-pin3");
  std::ofstream(dir / "junk.pem") << "-----BEGIN NOTHING-----\n";
  TrustOptions o;
  o.pin_file = dir / "junk.pem";
  EXPECT_EQ(ResolveTrust(dir / "state", {"127.0.0.1", 1}, o).status().reason(), "pin.bad_pem");
  std::filesystem::remove_all(dir);
}

TEST(PinningTest, UnreachableServerIsUnavailable) {
  const auto dir = testing::MakeTempDir("lg-pin4");
  const auto cert = testing::MakeSelfSignedCert(dir, "c");
  TrustOptions o;
  o.pin_file = cert.cert_pem;
  auto trust = ResolveTrust(dir / "state", {"127.0.0.1", 1}, o);
  ASSERT_TRUE(trust.ok());
  auto res = HttpsClient::Create({"127.0.0.1", 1}, *trust)->Get("/");
  EXPECT_EQ(res.status().reason(), "https.unreachable");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace livegate::client
