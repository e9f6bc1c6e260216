// Template protection layer (R-SEC-STO-3/4/5, R-SRV-SM-2, decision 11.5).
#include "storage/template_protection.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "crypto/key_manager.h"
#include "storage/store_test_env.h"

namespace livegate::storage {
namespace {

using testing::Backend;
using testing::TestDatabase;

Template RandomTemplate(std::mt19937& rng, float scale = 0.1f) {
  std::normal_distribution<float> n(0.f, scale);
  Template t;
  for (auto& v : t) v = n(rng);
  return t;
}
double Dist(const Template& a, const Template& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s);
}
crypto::KeyManager MakeKeys(std::uint8_t fill) {
  return crypto::KeyManager::FromKeys(crypto::Bytes(32, fill)).value();
}

TEST(TemplateTransform, IsAnOrthogonalKeyedRotation) {
  std::mt19937 rng(1);
  const crypto::Bytes key = crypto::RandomBytes(32);
  auto tf = TemplateTransform::FromKey(key);
  ASSERT_TRUE(tf.ok());
  auto same = TemplateTransform::FromKey(key);
  auto other = TemplateTransform::FromKey(crypto::RandomBytes(32));
  for (int trial = 0; trial < 50; ++trial) {
    const Template a = RandomTemplate(rng), b = RandomTemplate(rng);
    EXPECT_NEAR(Dist(tf->Apply(a), tf->Apply(b)), Dist(a, b), 1e-5);  // distance preserved
    EXPECT_LT(Dist(tf->Invert(tf->Apply(a)), a), 1e-5);                 // invertible with the key
    EXPECT_EQ(tf->Apply(a), same->Apply(a));                            // deterministic per key
    EXPECT_GT(Dist(tf->Apply(a), other->Apply(a)), 0.5 * std::sqrt(2.0) * Dist(a, Template{}));
    EXPECT_GT(Dist(tf->Apply(a), a), 0.5 * Dist(a, Template{}));  // not near the identity
  }
  EXPECT_EQ(TemplateTransform::FromKey(crypto::Bytes(31, 1)).status().reason(),
            "storage.bad_transform_key");
}

class TemplateProtectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>(Backend::kSqlite);
    store_ = db_->Open().value();
    for (const char* id : {"alice", "bob"}) {
      Account a;
      a.account_id = id;
      a.srp_verifier = {1};
      a.srp_salt = {2};
      a.srp_group = "modp/srp/3072";
      ASSERT_TRUE(store_->CreateAccount(a).ok());
    }
  }
  std::mt19937 rng_{7};
  crypto::KeyManager keys_ = MakeKeys(0x42);
  TemplateProtector protector_{&keys_};
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<ReferenceStore> store_;
};

TEST_F(TemplateProtectorTest, ComparisonInTransformedDomainKeepsTheDistance) {
  const Template enrolled = RandomTemplate(rng_), probe = RandomTemplate(rng_);
  ASSERT_TRUE(protector_.Enroll(*store_, "alice", "android", enrolled, "capture").ok());
  auto cmp = protector_.PrepareComparison(*store_, "alice", "android", probe);
  ASSERT_TRUE(cmp.ok()) << cmp.status().ToString();
  EXPECT_NEAR(Dist(cmp->reference, cmp->probe), Dist(enrolled, probe), 1e-5);
  EXPECT_GT(Dist(cmp->reference, enrolled), 0.1);  // the stored form is not the features
  EXPECT_EQ(cmp->source, "capture");
  auto ref = store_->GetReference("alice", "android");
  EXPECT_EQ(ref->protected_template.size(), 12u + 512u + 16u);  // nonce | 128 floats | tag
  EXPECT_EQ(ref->transform_version, 1);
  EXPECT_EQ(protector_.PrepareComparison(*store_, "alice", "ios", probe).status().reason(),
            "storage.reference_not_found");
  EXPECT_EQ(protector_.Enroll(*store_, "carol", "android", enrolled, "capture").reason(),
            "storage.account_not_found");
  Template bad = enrolled;
  bad[3] = std::nanf("");
  EXPECT_EQ(protector_.Enroll(*store_, "alice", "android", bad, "capture").reason(),
            "storage.template_not_finite");
}

TEST_F(TemplateProtectorTest, UsersGetIndependentTransforms) {
  const Template same = RandomTemplate(rng_);
  ASSERT_TRUE(protector_.Enroll(*store_, "alice", "android", same, "capture").ok());
  ASSERT_TRUE(protector_.Enroll(*store_, "bob", "android", same, "capture").ok());
  auto a = protector_.PrepareComparison(*store_, "alice", "android", same);
  auto b = protector_.PrepareComparison(*store_, "bob", "android", same);
  ASSERT_TRUE(a.ok() && b.ok());
  // Unlinkable: the same face gives unrelated stored vectors for two users.
  EXPECT_GT(Dist(a->reference, b->reference), 0.5 * Dist(same, Template{}));
}

TEST_F(TemplateProtectorTest, RecordsSwappedBetweenRowsDoNotOpen) {
  ASSERT_TRUE(protector_.Enroll(*store_, "alice", "android", RandomTemplate(rng_), "capture").ok());
  ASSERT_TRUE(protector_.Enroll(*store_, "alice", "ios", RandomTemplate(rng_), "capture").ok());
  ASSERT_TRUE(protector_.Enroll(*store_, "bob", "android", RandomTemplate(rng_), "capture").ok());
  // An attacker with write access copies bob's sealed template onto alice's
  // row, then alice's ios template onto her android row (R-SRV-SM-2).
  Reference alice = store_->GetReference("alice", "android").value();
  alice.protected_template = store_->GetReference("bob", "android")->protected_template;
  ASSERT_TRUE(store_->PutReference(alice).ok());
  auto r = protector_.PrepareComparison(*store_, "alice", "android", RandomTemplate(rng_));
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(r.status().reason(), "storage.template_auth_failed");
  alice.protected_template = store_->GetReference("alice", "ios")->protected_template;
  ASSERT_TRUE(store_->PutReference(alice).ok());
  EXPECT_EQ(protector_.PrepareComparison(*store_, "alice", "android", RandomTemplate(rng_))
                .status()
                .reason(),
            "storage.template_auth_failed");
  // Bob's wrapped data key copied onto alice's key row does not unwrap either.
  UserKey k = store_->GetUserKey("alice").value();
  k.wrapped_data_key = store_->GetUserKey("bob")->wrapped_data_key;
  ASSERT_TRUE(store_->ReplaceUserKey(k).ok());
  EXPECT_EQ(protector_.PrepareComparison(*store_, "alice", "ios", RandomTemplate(rng_))
                .status()
                .reason(),
            "keys.unwrap_failed");
}

TEST_F(TemplateProtectorTest, AnotherMasterKeyCannotOpen) {
  ASSERT_TRUE(protector_.Enroll(*store_, "alice", "android", RandomTemplate(rng_), "capture").ok());
  crypto::KeyManager other = MakeKeys(0x43);
  TemplateProtector thief(&other);
  auto r = thief.PrepareComparison(*store_, "alice", "android", RandomTemplate(rng_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "keys.unknown_kek");
}

TEST_F(TemplateProtectorTest, RenewalReissuesTemplatesUnderNewKeys) {
  const Template enrolled = RandomTemplate(rng_), probe = RandomTemplate(rng_);
  ASSERT_TRUE(protector_.Enroll(*store_, "alice", "android", enrolled, "capture").ok());
  ASSERT_TRUE(protector_.Enroll(*store_, "alice", "ios", enrolled, "batch:import-1").ok());
  const UserKey before = store_->GetUserKey("alice").value();
  const Template old_form = protector_.PrepareComparison(*store_, "alice", "android", probe)->reference;

  ASSERT_TRUE(store_->Transact([&](StoreOps& tx) { return protector_.Renew(tx, "alice"); }).ok());
  const UserKey after = store_->GetUserKey("alice").value();
  EXPECT_EQ(after.transform_version, 2);
  EXPECT_NE(after.wrapped_data_key, before.wrapped_data_key);
  for (const char* type : {"android", "ios"}) {
    auto cmp = protector_.PrepareComparison(*store_, "alice", type, probe);
    ASSERT_TRUE(cmp.ok()) << cmp.status().ToString();
    EXPECT_NEAR(Dist(cmp->reference, cmp->probe), Dist(enrolled, probe), 1e-4);
    EXPECT_EQ(store_->GetReference("alice", type)->transform_version, 2);
  }
  EXPECT_EQ(store_->GetReference("alice", "ios")->source, "batch:import-1");
  // The renewed template is unlinkable to the old one.
  const Template new_form = protector_.PrepareComparison(*store_, "alice", "android", probe)->reference;
  EXPECT_GT(Dist(new_form, old_form), 0.5 * Dist(enrolled, Template{}));
}

TEST_F(TemplateProtectorTest, DeregistrationShredsKeyAndReferences) {
  ASSERT_TRUE(protector_.Enroll(*store_, "alice", "android", RandomTemplate(rng_), "capture").ok());
  ASSERT_TRUE(store_->DeleteUserBiometrics("alice").ok());
  EXPECT_EQ(protector_.PrepareComparison(*store_, "alice", "android", RandomTemplate(rng_))
                .status()
                .reason(),
            "storage.reference_not_found");
  EXPECT_EQ(store_->GetUserKey("alice").status().reason(), "storage.user_key_not_found");
  // Re-registration after opt-out draws fresh keys.
  ASSERT_TRUE(protector_.Enroll(*store_, "alice", "android", RandomTemplate(rng_), "capture").ok());
  EXPECT_EQ(store_->GetUserKey("alice")->transform_version, 1);
}

// Accuracy cost on synthetic descriptors (20 subjects x 6 samples, within-
// subject spread chosen so that FNMR at the threshold is neither 0 nor 1).
// The real-descriptor measurement is in docs/STORAGE.md.
TEST(TransformAccuracyCost, FnmrUnchangedAtOperatingPoint) {
  std::mt19937 rng(2026);
  std::vector<LabelledTemplate> samples;
  for (int s = 0; s < 20; ++s) {
    const Template centre = RandomTemplate(rng, 0.08f);
    for (int k = 0; k < 6; ++k) {
      Template t = RandomTemplate(rng, 0.028f);
      for (std::size_t i = 0; i < t.size(); ++i) t[i] += centre[i];
      samples.push_back({"s" + std::to_string(s), t});
    }
  }
  const TransformAccuracyCost c = MeasureTransformAccuracyCost(samples, 0.45f);
  EXPECT_EQ(c.genuine_pairs, 20 * 15);
  EXPECT_EQ(c.impostor_pairs, 120 * 114);
  EXPECT_GT(c.fnmr_before, 0.0);
  EXPECT_LT(c.fnmr_before, 1.0);
  EXPECT_LE(std::abs(c.fnmr_after - c.fnmr_before), 0.005);  // the 0.5-point bound
  EXPECT_LE(std::abs(c.fmr_after - c.fmr_before), 0.005);
  EXPECT_LT(c.max_abs_distance_change, 1e-4);
}

}  // namespace
}  // namespace livegate::storage
