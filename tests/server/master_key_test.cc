// The previous master key during rotation from the server configuration
// (R-SEC-STO-1/2, docs/SECURITY.md "Rotation without downtime"):
// master_key.previous_file (mode 0600 rule, like the current key) or
// master_key.previous_env; a key wrapped under the old KEK still unwraps,
// new keys are wrapped under the new one.
#include "server/master_key.h"

#include <sys/stat.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "crypto/kdf.h"
#include "server/config.h"
#include "support/test_data.h"

namespace livegate::server {
namespace {

class MasterKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("lg_master_key");
    ASSERT_TRUE(crypto::KeyManager::GenerateKeyFile((dir_ / "old.kek").string()).ok());
    ASSERT_TRUE(crypto::KeyManager::GenerateKeyFile((dir_ / "new.kek").string()).ok());
    auto old_key = crypto::KeyManager::ReadKeyFile((dir_ / "old.kek").string());
    ASSERT_TRUE(old_key.ok());
    old_hex_ = crypto::HexEncode(*old_key);
    auto old_only = crypto::KeyManager::FromKeys(*old_key);
    ASSERT_TRUE(old_only.ok());
    old_id_ = old_only->current_kek_id();
    // A user's data key wrapped before the rotation.
    auto w = old_only->WrapKey(crypto::AsBytes("data key of user 7 (32 bytes)..."), "user:7");
    ASSERT_TRUE(w.ok());
    wrapped_old_ = *w;
    unsetenv("LIVEGATE_MASTER_KEY_PREVIOUS");
    unsetenv("LG_TEST_PREVIOUS_KEK");
  }
  void TearDown() override {
    unsetenv("LIVEGATE_MASTER_KEY_PREVIOUS");
    unsetenv("LG_TEST_PREVIOUS_KEK");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Config(const std::string& master_key) {
    return R"({"tls":{"generate":true},"database":{"uri":"sqlite:x.db"},"policy_file":"p.json",
              "master_key":)" + master_key + "}";
  }

  std::filesystem::path dir_;
  std::string old_hex_, old_id_;
  crypto::Bytes wrapped_old_;
};

TEST_F(MasterKeyTest, PreviousFileFromConfigUnwrapsOldKeys) {
  auto c = ParseServerConfig(Config(R"({"file":"new.kek","previous_file":"old.kek"})"), dir_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->master_key.previous_file, dir_ / "old.kek");  // resolved like every path
  auto keys = LoadMasterKeys(c->master_key);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_TRUE(keys->has_previous());
  EXPECT_EQ(keys->previous_kek_id(), old_id_);
  EXPECT_NE(keys->current_kek_id(), old_id_);
  auto plain = keys->UnwrapKey(wrapped_old_, "user:7");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(std::string(plain->begin(), plain->end()), "data key of user 7 (32 bytes)...");
  EXPECT_TRUE(keys->NeedsRewrap(wrapped_old_));
  // Without the previous key the old wrap no longer opens.
  auto c2 = ParseServerConfig(Config(R"({"file":"new.kek"})"), dir_);
  ASSERT_TRUE(c2.ok());
  auto only_new = LoadMasterKeys(c2->master_key);
  ASSERT_TRUE(only_new.ok());
  EXPECT_FALSE(only_new->has_previous());
  EXPECT_EQ(only_new->UnwrapKey(wrapped_old_, "user:7").status().reason(), "keys.unknown_kek");
}

TEST_F(MasterKeyTest, PreviousFileMustBe0600) {
  ASSERT_EQ(chmod((dir_ / "old.kek").c_str(), 0644), 0);
  auto c = ParseServerConfig(Config(R"({"file":"new.kek","previous_file":"old.kek"})"), dir_);
  ASSERT_TRUE(c.ok());
  auto keys = LoadMasterKeys(c->master_key);
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().reason(), "keys.kek_file_permissions");
}

TEST_F(MasterKeyTest, PreviousEnvFromConfig) {
  auto c = ParseServerConfig(Config(R"({"file":"new.kek","previous_env":"LG_TEST_PREVIOUS_KEK"})"), dir_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  // Named but not set: start-up refuses rather than silently dropping it.
  auto missing = LoadMasterKeys(c->master_key);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().reason(), "keys.kek_missing");
  EXPECT_NE(missing.status().message().find("LG_TEST_PREVIOUS_KEK"), std::string::npos);
  setenv("LG_TEST_PREVIOUS_KEK", old_hex_.c_str(), 1);
  auto keys = LoadMasterKeys(c->master_key);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->previous_kek_id(), old_id_);
  EXPECT_TRUE(keys->UnwrapKey(wrapped_old_, "user:7").ok());
  // Read once, then wiped from the environment (issue 12, finding 8).
  EXPECT_EQ(std::getenv("LG_TEST_PREVIOUS_KEK"), nullptr);
  // The named variable wins over the default one.
  setenv("LG_TEST_PREVIOUS_KEK", old_hex_.c_str(), 1);
  setenv("LIVEGATE_MASTER_KEY_PREVIOUS", std::string(64, 'a').c_str(), 1);
  keys = LoadMasterKeys(c->master_key);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->previous_kek_id(), old_id_);
}

TEST_F(MasterKeyTest, DefaultEnvStillReadWhenNothingConfigured) {
  auto c = ParseServerConfig(Config(R"({"file":"new.kek"})"), dir_);
  ASSERT_TRUE(c.ok());
  setenv("LIVEGATE_MASTER_KEY_PREVIOUS", old_hex_.c_str(), 1);
  auto keys = LoadMasterKeys(c->master_key);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->previous_kek_id(), old_id_);
}

TEST_F(MasterKeyTest, AtMostOnePreviousSource) {
  auto c = ParseServerConfig(
      Config(R"({"file":"new.kek","previous_file":"old.kek","previous_env":"X"})"), dir_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().reason(), "config.bad_value");
  EXPECT_NE(c.status().message().find("previous_file"), std::string::npos);
  auto typo = ParseServerConfig(Config(R"({"file":"new.kek","previous":"old.kek"})"), dir_);
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().reason(), "config.unknown_key");
}

}  // namespace
}  // namespace livegate::server
