// A copy of the database without the master key contains no template bytes
// (R-SEC-STO-3/4, R-SRV-SM-2, decision 11.5). Known descriptors are enrolled,
// the raw database bytes are taken (the SQLite files, or every column of
// every table of the PostgreSQL schema), and searched for the plaintext
// template, its transformed form and the clear data and transform keys.
//
// Window sizes: every 8-byte window (at any offset) of every needle must be
// absent. 4-byte windows of random ciphertext collide by chance (about
// needles x haystack / 2^32 expected hits), so those are counted and must
// stay far below what one leaked template gives (>= 128 aligned hits); a
// positive control shows the scanner does find a planted template.
#include <pqxx/pqxx>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <unordered_set>

#include <gtest/gtest.h>

#include "crypto/key_manager.h"
#include "storage/store_test_env.h"
#include "storage/template_protection.h"

namespace livegate::storage {
namespace {

using testing::Backend;
using testing::TestDatabase;

struct Needles {
  std::unordered_set<std::uint32_t> w4;  // float-aligned 4-byte windows
  std::unordered_set<std::uint64_t> w8;  // 8-byte windows at every offset
  void Add(const Bytes& b, bool aligned4) {
    for (std::size_t i = 0; i + 8 <= b.size(); ++i) {
      std::uint64_t v;
      std::memcpy(&v, b.data() + i, 8);
      w8.insert(v);
    }
    if (aligned4) {
      for (std::size_t i = 0; i + 4 <= b.size(); i += 4) {
        std::uint32_t v;
        std::memcpy(&v, b.data() + i, 4);
        if (v != 0) w4.insert(v);
      }
    }
  }
};
struct Hits {
  int w4 = 0;
  int w8 = 0;
};
Hits Scan(const Bytes& hay, const Needles& n) {
  Hits h;
  for (std::size_t i = 0; i + 4 <= hay.size(); ++i) {
    std::uint32_t v4;
    std::memcpy(&v4, hay.data() + i, 4);
    if (n.w4.count(v4)) ++h.w4;
    if (i + 8 <= hay.size()) {
      std::uint64_t v8;
      std::memcpy(&v8, hay.data() + i, 8);
      if (n.w8.count(v8)) ++h.w8;
    }
  }
  return h;
}

Bytes ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

// Every value of every column of every table in the schema, as raw bytes.
Bytes DumpPostgresSchema(const std::string& schema) {
  Bytes out;
  pqxx::connection c(testing::PgUri());
  pqxx::work w(c);
  auto cols = w.exec_params(
      "SELECT table_name, column_name, data_type FROM information_schema.columns "
      "WHERE table_schema = $1",
      schema);
  for (const auto& row : cols) {
    const std::string table = row[0].c_str(), col = row[1].c_str(), type = row[2].c_str();
    auto vals = w.exec("SELECT " + w.quote_name(col) + " FROM " + w.quote_name(schema) + "." +
                       w.quote_name(table));
    for (const auto& v : vals) {
      if (v[0].is_null()) continue;
      if (type == "bytea") {
        pqxx::binarystring bs(v[0]);
        out.insert(out.end(), bs.data(), bs.data() + bs.size());
      } else {
        out.insert(out.end(), v[0].c_str(), v[0].c_str() + v[0].size());
      }
    }
  }
  return out;
}

class TemplateLeak : public ::testing::TestWithParam<Backend> {};

// R-SEC-STO-3/4, R-SRV-SM-2: a copy of the database holds no template or key bytes.
TEST_P(TemplateLeak, DatabaseCopyHoldsNoTemplateOrKeyBytes) {
  LG_REQUIRE_BACKEND(GetParam());
  TestDatabase db(GetParam());
  auto keys = crypto::KeyManager::FromKeys(crypto::RandomBytes(32)).value();
  TemplateProtector protector(&keys);
  std::mt19937 rng(99);
  std::normal_distribution<float> n(0.f, 0.1f);

  Needles plain;      // templates and their transformed forms
  Needles key_bytes;  // data keys and transform keys in clear
  Needles shredded;   // what deregistration must remove (SQLite, file level)
  {
    auto store = db.Open().value();
    constexpr int kUsers = 8;
    for (int u = 0; u < kUsers; ++u) {
      const std::string id = "user" + std::to_string(u);
      Account a;
      a.account_id = id;
      a.srp_verifier = {9, 9};
      a.srp_salt = {8};
      a.srp_group = "modp/srp/3072";
      ASSERT_TRUE(store->CreateAccount(a).ok());
      for (const char* type : {"android", "ios"}) {
        Template t;
        for (auto& v : t) v = n(rng);
        ASSERT_TRUE(store->Transact([&](StoreOps& tx) {
                           return protector.Enroll(tx, id, type, t, "capture");
                         }).ok());
        auto cmp = protector.PrepareComparison(*store, id, type, t);
        ASSERT_TRUE(cmp.ok()) << cmp.status().ToString();
        plain.Add(TemplateBytes(t), true);
        plain.Add(TemplateBytes(cmp->reference), true);  // transformed form
      }
      const UserKey k = store->GetUserKey(id).value();
      crypto::Bytes data_key =
          keys.UnwrapKey(k.wrapped_data_key, TemplateProtector::DataKeyPurpose(id)).value();
      key_bytes.Add(data_key, false);
      if (u == 0) {
        // Skip the wrapped key's header ("LGWK" | format | kek_id): it is
        // the same for every user; the nonce | ciphertext | tag after it is not.
        ASSERT_GT(k.wrapped_data_key.size(), 13u + 8u);
        shredded.Add(Bytes(k.wrapped_data_key.begin() + 13, k.wrapped_data_key.end()), false);
        shredded.Add(store->GetReference(id, "android")->protected_template, false);
      }
    }
    // user0 opts out: references, device credentials and data key go.
    ASSERT_TRUE(store->DeleteUserBiometrics("user0").ok());

    Bytes hay;
    if (GetParam() == Backend::kSqlite) {
      // A copy taken while the server runs: main file + WAL.
      for (const char* suffix : {"", "-wal"}) {
        const Bytes f = ReadFile(db.sqlite_path() + suffix);
        hay.insert(hay.end(), f.begin(), f.end());
      }
    } else {
      hay = DumpPostgresSchema(db.pg_schema());
    }
    ASSERT_GT(hay.size(), 16u * 540u);  // the sealed templates are in there
    const Hits h = Scan(hay, plain);
    EXPECT_EQ(h.w8, 0) << "8-byte windows of a template found in the database";
    EXPECT_LT(h.w4, 10) << "4-byte template windows above chance level";
    EXPECT_EQ(Scan(hay, key_bytes).w8, 0) << "a data key in clear is in the database";
    RecordProperty("haystack_bytes", std::to_string(hay.size()));
    RecordProperty("chance_4byte_hits", std::to_string(h.w4));

    // Positive control: the same scan finds a planted template.
    Bytes planted = hay;
    Template t0;
    for (auto& v : t0) v = n(rng);
    Needles control;
    control.Add(TemplateBytes(t0), true);
    const Bytes tb = TemplateBytes(t0);
    planted.insert(planted.begin() + static_cast<long>(planted.size() / 2), tb.begin(), tb.end());
    const Hits found = Scan(planted, control);
    EXPECT_GE(found.w4, 128);
    EXPECT_GE(found.w8, 505);
  }
  if (GetParam() == Backend::kSqlite) {
    // After a clean close (checkpoint), secure_delete has overwritten the
    // shredded user's sealed template and wrapped key in the file.
    const Bytes file = ReadFile(db.sqlite_path());
    EXPECT_EQ(Scan(file, shredded).w8, 0) << "deregistered user's records still in the file";
  }
}

INSTANTIATE_TEST_SUITE_P(Storage, TemplateLeak,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testing::BackendName);

}  // namespace
}  // namespace livegate::storage
