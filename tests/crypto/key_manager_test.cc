// R-SEC-STO-1/2: master key handling and data-key wrapping.
#include "crypto/key_manager.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "crypto/kdf.h"
#include "support/test_data.h"

namespace livegate::crypto {
namespace {

std::string WriteKey(const std::filesystem::path& dir, const std::string& name,
                     const std::string& content, mode_t mode) {
  const auto p = (dir / name).string();
  std::ofstream(p) << content;
  ::chmod(p.c_str(), mode);
  return p;
}

const std::string kHexKey(64, 'a');

TEST(KeyManagerTest, LoadsFrom0600File) {
  const auto dir = livegate::testing::MakeTempDir("km");
  KeyManagerOptions o;
  o.key_file = WriteKey(dir, "kek", kHexKey + "\n", 0600);
  auto km = KeyManager::Load(o);
  ASSERT_TRUE(km.ok()) << km.status().ToString();
  EXPECT_EQ(km->current_kek_id().size(), 16u);
  EXPECT_FALSE(km->has_previous());
}

TEST(KeyManagerTest, RefusesGroupOrWorldReadableFile) {
  const auto dir = livegate::testing::MakeTempDir("km");
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    KeyManagerOptions o;
    o.key_file = WriteKey(dir, "kek" + std::to_string(mode), kHexKey, mode);
    auto km = KeyManager::Load(o);
    ASSERT_FALSE(km.ok()) << std::oct << mode;
    EXPECT_EQ(km.status().reason(), "keys.kek_file_permissions");
    EXPECT_EQ(km.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(km.status().message().find("chmod 600"), std::string::npos);
  }
}

TEST(KeyManagerTest, MissingAndMalformed) {
  const auto dir = livegate::testing::MakeTempDir("km");
  KeyManagerOptions o;
  o.key_file = (dir / "absent").string();
  EXPECT_EQ(KeyManager::Load(o).status().reason(), "keys.kek_missing");
  o.key_file = WriteKey(dir, "short", "abcd", 0600);
  EXPECT_EQ(KeyManager::Load(o).status().reason(), "keys.kek_malformed");
  o.key_file = WriteKey(dir, "nothex", std::string(64, 'z'), 0600);
  EXPECT_EQ(KeyManager::Load(o).status().reason(), "keys.kek_malformed");
  KeyManagerOptions e;
  e.env_var = "LIVEGATE_TEST_KEK_UNSET_XYZ";
  EXPECT_EQ(KeyManager::Load(e).status().reason(), "keys.kek_missing");
}

TEST(KeyManagerTest, LoadsFromEnvironment) {
  ::setenv("LIVEGATE_TEST_KEK", kHexKey.c_str(), 1);
  KeyManagerOptions o;
  o.env_var = "LIVEGATE_TEST_KEK";
  o.previous_env_var = "";
  auto km = KeyManager::Load(o);
  ASSERT_TRUE(km.ok()) << km.status().ToString();
  const auto dir = livegate::testing::MakeTempDir("km");
  KeyManagerOptions f;
  f.key_file = WriteKey(dir, "kek", kHexKey, 0600);
  auto km2 = KeyManager::Load(f);
  ASSERT_TRUE(km2.ok());
  EXPECT_EQ(km->current_kek_id(), km2->current_kek_id());  // same key, same id
}

TEST(KeyManagerTest, GenerateKeyFileIs0600AndLoads) {
  const auto dir = livegate::testing::MakeTempDir("km");
  const auto path = (dir / "new.kek").string();
  ASSERT_TRUE(KeyManager::GenerateKeyFile(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(KeyManager::GenerateKeyFile(path).reason(), "keys.kek_exists");
  KeyManagerOptions o;
  o.key_file = path;
  EXPECT_TRUE(KeyManager::Load(o).ok());
}

TEST(KeyManagerTest, WrapUnwrapBoundToPurpose) {
  auto km = KeyManager::FromKeys(RandomBytes(32));
  ASSERT_TRUE(km.ok());
  const Bytes dk = KeyManager::NewDataKey();
  auto w = km->WrapKey(dk, "user:42");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->size(), 4 + 1 + 8 + 12 + 32 + 16u);
  auto u = km->UnwrapKey(*w, "user:42");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*u, dk);
  auto other = km->UnwrapKey(*w, "user:43");
  EXPECT_EQ(other.status().reason(), "keys.unwrap_failed");
  EXPECT_EQ(other.status().code(), StatusCode::kDataLoss);
  Bytes bad = *w;
  bad[20] ^= 1;
  EXPECT_EQ(km->UnwrapKey(bad, "user:42").status().reason(), "keys.unwrap_failed");
  EXPECT_EQ(km->UnwrapKey(Bytes(10), "user:42").status().reason(), "keys.wrapped_malformed");
}

TEST(KeyManagerTest, RotationAcceptsOldAndNewThenRewraps) {
  const Bytes old_kek = RandomBytes(32), new_kek = RandomBytes(32);
  auto before = KeyManager::FromKeys(old_kek);
  ASSERT_TRUE(before.ok());
  const Bytes dk = KeyManager::NewDataKey();
  auto w_old = before->WrapKey(dk, "user:7");
  ASSERT_TRUE(w_old.ok());

  auto during = KeyManager::FromKeys(new_kek, old_kek);
  ASSERT_TRUE(during.ok());
  EXPECT_TRUE(during->has_previous());
  EXPECT_TRUE(during->NeedsRewrap(*w_old));
  auto u = during->UnwrapKey(*w_old, "user:7");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*u, dk);
  auto w_new = during->Rewrap(*w_old, "user:7");
  ASSERT_TRUE(w_new.ok());
  EXPECT_FALSE(during->NeedsRewrap(*w_new));

  auto after = KeyManager::FromKeys(new_kek);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after->UnwrapKey(*w_new, "user:7"), dk);
  auto stale = after->UnwrapKey(*w_old, "user:7");
  EXPECT_EQ(stale.status().reason(), "keys.unknown_kek");
  EXPECT_EQ(stale.status().code(), StatusCode::kNotFound);
}

TEST(KeyManagerTest, DeriveSecretIsStableAndLabelled) {
  const Bytes kek = RandomBytes(32);
  auto a = KeyManager::FromKeys(kek), b = KeyManager::FromKeys(kek);
  EXPECT_EQ(a->DeriveSecret("srp fake salt"), b->DeriveSecret("srp fake salt"));
  EXPECT_NE(a->DeriveSecret("srp fake salt"), a->DeriveSecret("tls"));
  EXPECT_EQ(a->DeriveSecret("x").size(), 32u);
}

// RFC 5869 test case 1 (HKDF-SHA256).
TEST(KdfTest, HkdfRfc5869Case1) {
  auto ikm = Bytes(22, 0x0b);
  auto salt = *HexDecode("000102030405060708090a0b0c");
  auto info = *HexDecode("f0f1f2f3f4f5f6f7f8f9");
  EXPECT_EQ(HexEncode(HkdfSha256(ikm, salt, info, 42)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865");
}

TEST(KdfTest, Base64UrlStrict) {
  EXPECT_EQ(Base64UrlEncode(ToBytes("foob")), "Zm9vYg");
  EXPECT_EQ(*Base64UrlDecode("Zm9vYg"), ToBytes("foob"));
  EXPECT_EQ(*Base64UrlDecode(""), Bytes{});
  EXPECT_EQ(Base64UrlDecode("Zm9vYg==").status().reason(), "encoding.bad_base64url");
  EXPECT_EQ(Base64UrlDecode("Zm9vYh").status().reason(), "encoding.bad_base64url");  // trailing bits
  EXPECT_EQ(Base64UrlDecode("Z").status().reason(), "encoding.bad_base64url");
  EXPECT_EQ(Base64UrlDecode("a+b/").status().reason(), "encoding.bad_base64url");
  for (int n = 0; n < 40; ++n) {
    Bytes b = RandomBytes(n);
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(b)), b);
  }
}

}  // namespace
}  // namespace livegate::crypto
