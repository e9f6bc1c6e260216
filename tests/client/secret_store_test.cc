// R-CLI-SM-1: the device secret is encrypted at rest, 0600, bound to its server and account.
#include "client/secret_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "support/test_data.h"

namespace livegate::client {
namespace {

int Mode(const std::filesystem::path& p) {
  struct stat st{};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 0777;
}

std::vector<std::uint8_t> ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class SecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("lg-secret") / "state"; }
  void TearDown() override { std::filesystem::remove_all(dir_.parent_path()); }
  std::filesystem::path dir_;
};

TEST_F(SecretStoreTest, RoundTripWithPrivatePermissions) {
  auto store = SecretStore::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const auto cred = SecretStore::Generate("https://127.0.0.1:8443", "alice");
  EXPECT_EQ(cred.secret.size(), 32u);
  EXPECT_EQ(cred.device_id.rfind("dev-", 0), 0u);
  ASSERT_TRUE(store->Save(cred).ok());

  EXPECT_EQ(Mode(dir_), 0700);
  EXPECT_EQ(Mode(dir_ / "device.key"), 0600);
  const auto path = store->CredentialPath(cred.server, cred.account);
  EXPECT_EQ(Mode(path), 0600);
  EXPECT_EQ(path.filename().string().find("alice"), std::string::npos);

  // The secret is not on disk in the clear.
  const auto bytes = ReadAll(path);
  EXPECT_EQ(std::search(bytes.begin(), bytes.end(), cred.secret.begin(), cred.secret.end()), bytes.end());

  auto reopened = SecretStore::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  auto loaded = reopened->Load(cred.server, cred.account);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->secret, cred.secret);
  EXPECT_EQ(loaded->device_id, cred.device_id);

  ASSERT_TRUE(reopened->Remove(cred.server, cred.account).ok());
  EXPECT_EQ(reopened->Load(cred.server, cred.account).status().reason(), "secret.not_found");
}

TEST_F(SecretStoreTest, TamperedOrMovedCredentialIsRefused) {
  auto store = SecretStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  const auto alice = SecretStore::Generate("https://h:1", "alice");
  ASSERT_TRUE(store->Save(alice).ok());
  const auto alice_path = store->CredentialPath("https://h:1", "alice");

  // Copy alice's file into bob's slot: the AAD binds server and account.
  std::filesystem::copy_file(alice_path, store->CredentialPath("https://h:1", "bob"));
  EXPECT_EQ(store->Load("https://h:1", "bob").status().reason(), "secret.corrupt");

  auto bytes = ReadAll(alice_path);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_TRUE(WritePrivateFile(alice_path, bytes).ok());
  const auto st = store->Load("https://h:1", "alice").status();
  EXPECT_EQ(st.reason(), "secret.corrupt");
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
}

TEST_F(SecretStoreTest, AnotherDeviceKeyCannotOpenIt) {
  auto store = SecretStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->Save(SecretStore::Generate("https://h:1", "alice")).ok());
  const auto other = dir_.parent_path() / "other";
  auto store2 = SecretStore::Open(other);
  ASSERT_TRUE(store2.ok());
  std::filesystem::copy_file(store->CredentialPath("https://h:1", "alice"),
                             store2->CredentialPath("https://h:1", "alice"));
  EXPECT_EQ(store2->Load("https://h:1", "alice").status().reason(), "secret.corrupt");
}

TEST_F(SecretStoreTest, WidePermissionsAreRefused) {
  auto store = SecretStore::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->Save(SecretStore::Generate("https://h:1", "alice")).ok());
  const auto path = store->CredentialPath("https://h:1", "alice");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const auto st = store->Load("https://h:1", "alice").status();
  EXPECT_EQ(st.reason(), "secret.permissions_too_open");
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);

  ASSERT_EQ(::chmod((dir_ / "device.key").c_str(), 0640), 0);
  EXPECT_EQ(SecretStore::Open(dir_).status().reason(), "secret.permissions_too_open");
}

TEST_F(SecretStoreTest, TruncatedKeyFileIsCorrupt) {
  std::filesystem::create_directories(dir_);
  ASSERT_TRUE(WritePrivateFile(dir_ / "device.key", {1, 2, 3}).ok());
  EXPECT_EQ(SecretStore::Open(dir_).status().reason(), "secret.corrupt");
}

}  // namespace
}  // namespace livegate::client
