#include "crypto/aead.h"

#include <gtest/gtest.h>

namespace livegate::crypto {
namespace {

Bytes Str(const std::string& s) { return Bytes(s.begin(), s.end()); }

TEST(AeadTest, RoundTripAndLayout) {
  const Bytes key = RandomBytes(kAeadKeySize);
  const Bytes pt = Str("template features");
  auto sealed = AeadSeal(key, pt, Str("user:42"));
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_EQ(sealed->size(), kAeadNonceSize + pt.size() + kAeadTagSize);
  auto opened = AeadOpen(key, *sealed, Str("user:42"));
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, pt);
}

TEST(AeadTest, EmptyPlaintextRoundTrips) {
  const Bytes key = RandomBytes(kAeadKeySize);
  auto sealed = AeadSeal(key, {}, {});
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), kAeadNonceSize + kAeadTagSize);
  auto opened = AeadOpen(key, *sealed, {});
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->empty());
}

TEST(AeadTest, FreshNonceEachTime) {
  const Bytes key = RandomBytes(kAeadKeySize);
  auto a = AeadSeal(key, Str("x"), {});
  auto b = AeadSeal(key, Str("x"), {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(AeadTest, EveryBitFlipIsRejected) {
  const Bytes key = RandomBytes(kAeadKeySize);
  auto sealed = AeadSeal(key, Str("hello"), Str("ctx"));
  ASSERT_TRUE(sealed.ok());
  for (std::size_t i = 0; i < sealed->size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes m = *sealed;
      m[i] ^= static_cast<std::uint8_t>(1u << bit);
      auto r = AeadOpen(key, m, Str("ctx"));
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      EXPECT_EQ(r.status().reason(), "crypto.aead_auth_failed");
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
    }
  }
}

TEST(AeadTest, WrongAadOrKeyRejected) {
  const Bytes key = RandomBytes(kAeadKeySize);
  auto sealed = AeadSeal(key, Str("hello"), Str("user:1"));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(AeadOpen(key, *sealed, Str("user:2")).status().reason(), "crypto.aead_auth_failed");
  EXPECT_EQ(AeadOpen(RandomBytes(32), *sealed, Str("user:1")).status().reason(),
            "crypto.aead_auth_failed");
}

TEST(AeadTest, TruncatedAndBadKey) {
  const Bytes key = RandomBytes(kAeadKeySize);
  EXPECT_EQ(AeadOpen(key, Bytes(27), {}).status().reason(), "crypto.aead_truncated");
  EXPECT_EQ(AeadOpen(key, Bytes(27), {}).status().code(), StatusCode::kBadInput);
  EXPECT_EQ(AeadSeal(Bytes(16), Str("x"), {}).status().reason(), "crypto.bad_key_size");
  EXPECT_EQ(AeadOpen(Bytes(31), Bytes(40), {}).status().reason(), "crypto.bad_key_size");
}

TEST(AeadTest, ConstantTimeEqual) {
  EXPECT_TRUE(ConstantTimeEqual(Str("abc"), Str("abc")));
  EXPECT_FALSE(ConstantTimeEqual(Str("abc"), Str("abd")));
  EXPECT_FALSE(ConstantTimeEqual(Str("abc"), Str("abcd")));
  EXPECT_TRUE(ConstantTimeEqual({}, {}));
}

// NIST GCM test vector (gcmEncryptExtIV256, Count 0 with 16-byte PT) checked
// through the layout: nonce || ct || tag, decrypted by AeadOpen.
TEST(AeadTest, OpensKnownAnswerVector) {
  auto hex = [](const std::string& h) {
    Bytes b;
    for (std::size_t i = 0; i < h.size(); i += 2) b.push_back(std::stoi(h.substr(i, 2), nullptr, 16));
    return b;
  };
  // McGrew & Viega GCM spec, Test Case 14: K=0^256, IV=0^96, P=0^128.
  const Bytes key(32, 0);
  Bytes sealed(12, 0);
  const Bytes ct = hex("cea7403d4d606b6e074ec5d3baf39d18");
  const Bytes tag = hex("d0d1c8a799996bf0265b98b5d48ab919");
  sealed.insert(sealed.end(), ct.begin(), ct.end());
  sealed.insert(sealed.end(), tag.begin(), tag.end());
  auto opened = AeadOpen(key, sealed, {});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, Bytes(16, 0));
}

}  // namespace
}  // namespace livegate::crypto
