// TLS key material and key directory (R-SEC-STO-1/2, R-SEC-COM-1): the demo
// certificate carries the SANs, its private key is stored wrapped (never in
// clear), a real HTTPS server runs on it, and master-key rotation re-wraps.
#include "crypto/key_store.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <httplib.h>
#include <thread>

#include <gtest/gtest.h>

#include "crypto/kdf.h"
#include "support/test_data.h"

namespace livegate::crypto {
namespace {

KeyManager Km(const Bytes& k, std::optional<Bytes> prev = std::nullopt) {
  return *KeyManager::FromKeys(k, prev);
}

std::string Slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

mode_t Mode(const std::string& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(KeyStoreTest, SelfSignedWithSansWrappedAtRest) {
  const auto dir = livegate::testing::MakeTempDir("ks") / "keys";
  const Bytes kek = RandomBytes(32);
  TlsOptions o;
  o.key_dir = dir.string();
  o.dns_names = {"localhost", "gate.example.test"};
  auto m = LoadOrCreateTlsMaterial(o, Km(kek));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->generated);
  auto tls = ToOpenSsl(*m);
  ASSERT_TRUE(tls.ok());
  X509* cert = tls->cert.get();
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "gate.example.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "evil.test", 0, 0, nullptr), 1);

  const std::string wrapped_path = o.key_dir + "/tls_key.wrapped";
  EXPECT_EQ(Mode(wrapped_path), 0600u);
  EXPECT_EQ(Mode(o.key_dir), 0700u);
  const std::string at_rest = Slurp(wrapped_path);
  EXPECT_EQ(at_rest.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(at_rest.substr(0, 4), "LGWK");

  // Second run loads the same material.
  auto again = LoadOrCreateTlsMaterial(o, Km(kek));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->cert_pem, m->cert_pem);
  EXPECT_EQ(again->key_pem, m->key_pem);
  // With another master key it does not open.
  EXPECT_EQ(LoadOrCreateTlsMaterial(o, Km(RandomBytes(32))).status().reason(), "keys.unknown_kek");
}

// R-SEC-COM-1: a real HTTPS server; a client that does not trust the certificate refuses.
TEST(KeyStoreTest, RealHttpsServerOnGeneratedCertificate) {
  const auto dir = livegate::testing::MakeTempDir("ks");
  TlsOptions o;
  o.key_dir = (dir / "keys").string();
  auto m = LoadOrCreateTlsMaterial(o, Km(RandomBytes(32)));
  ASSERT_TRUE(m.ok());
  auto tls = ToOpenSsl(*m);
  ASSERT_TRUE(tls.ok());
  httplib::SSLServer server(tls->cert.get(), tls->key.get());
  ASSERT_TRUE(server.is_valid());
  server.Get("/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("pong", "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  const std::string ca = (dir / "ca.pem").string();
  std::ofstream(ca) << m->cert_pem;
  for (const char* host : {"127.0.0.1", "localhost"}) {
    httplib::SSLClient client(host, port);
    client.set_ca_cert_path(ca.c_str());
    client.enable_server_certificate_verification(true);
    auto res = client.Get("/ping");
    ASSERT_TRUE(res) << host << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->body, "pong");
  }
  // A client that does not trust the demo certificate refuses it.
  httplib::SSLClient strict("127.0.0.1", port);
  strict.enable_server_certificate_verification(true);
  EXPECT_FALSE(strict.Get("/ping"));
  server.stop();
  t.join();
}

TEST(KeyStoreTest, TempFilesArePrivateAndRemoved) {
  const auto dir = livegate::testing::MakeTempDir("ks");
  TlsOptions o;
  o.key_dir = (dir / "keys").string();
  auto m = LoadOrCreateTlsMaterial(o, Km(RandomBytes(32)));
  std::string key_path;
  {
    auto files = TlsTempFiles::Create(*m);
    ASSERT_TRUE(files.ok());
    key_path = (*files)->key_path();
    EXPECT_EQ(Mode(key_path), 0600u);
    EXPECT_EQ(Slurp(key_path), m->key_pem);
  }
  EXPECT_FALSE(std::filesystem::exists(key_path));
}

// Writes an operator key pair (EC P-256) produced with OpenSSL.
void WriteOperatorPair(const std::string& cert_path, const std::string& key_path,
                       const char* passphrase, mode_t mode) {
  TlsOptions o;
  o.key_dir = (livegate::testing::MakeTempDir("ksgen") / "keys").string();
  auto m = LoadOrCreateTlsMaterial(o, Km(RandomBytes(32)));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::ofstream(cert_path) << m->cert_pem;
  auto tls = ToOpenSsl(*m);
  BIO* bio = BIO_new(BIO_s_mem());
  if (passphrase) {
    PEM_write_bio_PKCS8PrivateKey(bio, tls->key.get(), EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                  const_cast<char*>(passphrase));
  } else {
    PEM_write_bio_PrivateKey(bio, tls->key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::ofstream(key_path) << std::string(data, n);
  BIO_free(bio);
  ::chmod(key_path.c_str(), mode);
}

TEST(KeyStoreTest, OperatorKeyFiles) {
  const auto dir = livegate::testing::MakeTempDir("ks");
  const std::string cert = (dir / "op.crt").string(), key = (dir / "op.key").string();
  TlsOptions o;
  o.cert_file = cert;
  o.key_file = key;
  o.key_passphrase_env = "LIVEGATE_TEST_TLS_PASS";

  ASSERT_NO_FATAL_FAILURE(WriteOperatorPair(cert, key, nullptr, 0644));
  EXPECT_EQ(LoadOrCreateTlsMaterial(o, Km(RandomBytes(32))).status().reason(),
            "keys.tls_key_permissions");
  ::chmod(key.c_str(), 0600);
  auto plain = LoadOrCreateTlsMaterial(o, Km(RandomBytes(32)));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_EQ(plain->warnings.size(), 1u);  // not encrypted at rest

  WriteOperatorPair(cert, key, "s3cret", 0600);
  ::unsetenv("LIVEGATE_TEST_TLS_PASS");
  EXPECT_EQ(LoadOrCreateTlsMaterial(o, Km(RandomBytes(32))).status().reason(),
            "keys.tls_passphrase_missing");
  ::setenv("LIVEGATE_TEST_TLS_PASS", "wrong", 1);
  EXPECT_EQ(LoadOrCreateTlsMaterial(o, Km(RandomBytes(32))).status().reason(), "keys.tls_bad_pem");
  ::setenv("LIVEGATE_TEST_TLS_PASS", "s3cret", 1);
  auto enc = LoadOrCreateTlsMaterial(o, Km(RandomBytes(32)));
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_TRUE(enc->warnings.empty());

  // Certificate of another key.
  WriteOperatorPair((dir / "other.crt").string(), (dir / "other.key").string(), nullptr, 0600);
  o.cert_file = (dir / "other.crt").string();
  EXPECT_EQ(LoadOrCreateTlsMaterial(o, Km(RandomBytes(32))).status().reason(),
            "keys.tls_key_mismatch");
}

TEST(KeyStoreTest, AuditSigningKeyAndRotation) {
  const auto dir = livegate::testing::MakeTempDir("ks") / "keys";
  const Bytes old_kek = RandomBytes(32), new_kek = RandomBytes(32);
  TlsOptions o;
  o.key_dir = dir.string();
  auto tls_before = LoadOrCreateTlsMaterial(o, Km(old_kek));
  auto audit_before = LoadOrCreateAuditSigningKey(o.key_dir, Km(old_kek));
  ASSERT_TRUE(tls_before.ok() && audit_before.ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "audit_signing.pub.pem"));
  EXPECT_EQ(Mode((dir / "audit_signing.wrapped").string()), 0600u);

  // A per-user data key held by "storage" (any WrappedKeyHolder).
  struct Memory : WrappedKeyHolder {
    Bytes wrapped;
    std::string name() const override { return "memory"; }
    Status ForEachWrappedKey(const RewrapFn& fn) override {
      LG_ASSIGN_OR_RETURN(auto fresh, fn("user:1", wrapped));
      if (fresh) wrapped = *fresh;
      return Status::Ok();
    }
  } mem;
  const Bytes dk = KeyManager::NewDataKey();
  mem.wrapped = *Km(old_kek).WrapKey(dk, "user:1");

  const KeyManager during = Km(new_kek, old_kek);
  auto dir_holder = KeyDirHolder(o.key_dir);
  RotationReport rep = RewrapAll(during, {dir_holder.get(), &mem});
  EXPECT_TRUE(rep.failures.empty()) << rep.failures.front();
  EXPECT_EQ(rep.examined, 3u);
  EXPECT_EQ(rep.rewrapped, 3u);
  // Idempotent: a second run has nothing to do.
  rep = RewrapAll(during, {dir_holder.get(), &mem});
  EXPECT_EQ(rep.rewrapped, 0u);
  EXPECT_EQ(rep.already_current, 3u);

  // After rotation the old KEK is no longer needed.
  const KeyManager after = Km(new_kek);
  auto tls_after = LoadOrCreateTlsMaterial(o, after);
  ASSERT_TRUE(tls_after.ok()) << tls_after.status().ToString();
  EXPECT_EQ(tls_after->key_pem, tls_before->key_pem);
  auto audit_after = LoadOrCreateAuditSigningKey(o.key_dir, after);
  ASSERT_TRUE(audit_after.ok());
  EXPECT_EQ(audit_after->public_key, audit_before->public_key);
  EXPECT_EQ(*after.UnwrapKey(mem.wrapped, "user:1"), dk);
}

}  // namespace
}  // namespace livegate::crypto
