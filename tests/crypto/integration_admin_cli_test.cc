// `livegate-admin audit verify` and `livegate-admin keys` end to end: the
// real binary on real files (R-SEC-SRV-4, R-SEC-STO-1/2).
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/audit_log.h"
#include "crypto/key_manager.h"
#include "crypto/signing.h"
#include "support/test_data.h"

#ifndef LIVEGATE_ADMIN_BIN
#error "LIVEGATE_ADMIN_BIN must point at the livegate-admin binary"
#endif

namespace livegate::crypto {
namespace {

using CliRun = livegate::testing::ShellRun;

CliRun Admin(const std::string& args) {
  const std::string cmd = std::string(LIVEGATE_ADMIN_BIN) + " " + args + " 2>&1";
  return livegate::testing::RunShell(cmd);
}

class AdminCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = livegate::testing::MakeTempDir("admin");
    key_ = GenerateEd25519();
    std::ofstream(dir_ / "pub.pem") << Ed25519PublicKeyToPem(key_.public_key);
    auto sink = FileAuditSink::Open((dir_ / "audit.jsonl").string());
    AuditLogOptions o;
    o.checkpoint_every = 3;
    auto log = AuditLog::Open(std::move(sink).value(), key_.private_key, o);
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE((*log)->Append({"acct:" + std::to_string(i), "auth.verify", "", "ok", {}}).ok());
    }
  }
  std::string Verify(const std::string& log, bool json) {
    return "audit verify --log " + log + " --public-key " + (dir_ / "pub.pem").string() +
           (json ? " --json" : "");
  }
  std::filesystem::path dir_;
  Ed25519KeyPair key_;
};

TEST_F(AdminCliTest, AuditVerifyIntact) {
  const CliRun r = Admin(Verify((dir_ / "audit.jsonl").string(), false));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("audit log intact: 10 entries, 2 signed checkpoints"), std::string::npos)
      << r.out;
}

TEST_F(AdminCliTest, AuditVerifyReportsDeletedEntryAsJson) {
  auto lines = *ReadAuditLines((dir_ / "audit.jsonl").string());
  lines.erase(lines.begin() + 5);
  const auto bad = (dir_ / "bad.jsonl").string();
  {
    std::ofstream out(bad);
    for (const auto& l : lines) out << l << "\n";
  }
  const CliRun r = Admin(Verify(bad, true));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["problem"], "deleted");
  EXPECT_EQ(j["first_bad_index"], 5);
}

TEST_F(AdminCliTest, AuditVerifyBadInput) {
  const CliRun r = Admin(Verify((dir_ / "missing.jsonl").string(), false));
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_NE(r.out.find("audit.no_log"), std::string::npos) << r.out;
}

TEST_F(AdminCliTest, KeysGenerateInitRotate) {
  const auto old_kek = (dir_ / "old.kek").string(), new_kek = (dir_ / "new.kek").string();
  const auto kd = (dir_ / "keys").string();
  ASSERT_EQ(Admin("keys generate-kek --out " + old_kek).exit_code, 0);
  ASSERT_EQ(Admin("keys generate-kek --out " + new_kek).exit_code, 0);
  EXPECT_EQ(Admin("keys generate-kek --out " + new_kek).exit_code, 3);  // never overwritten
  CliRun init = Admin("keys init --key-file " + old_kek + " --key-dir " + kd + " --dns gate.test");
  ASSERT_EQ(init.exit_code, 0) << init.out;
  EXPECT_TRUE(std::filesystem::exists(kd + "/audit_signing.pub.pem"));
  CliRun rot = Admin("keys rotate --key-file " + new_kek + " --previous-key-file " + old_kek +
                  " --key-dir " + kd + " --database sqlite:" + (dir_ / "ref.db").string() +
                  " --json");
  ASSERT_EQ(rot.exit_code, 0) << rot.out;
  const auto j = nlohmann::json::parse(rot.out);
  EXPECT_EQ(j["rewrapped"], 2);
  EXPECT_EQ(j["database"], "sqlite");
  // The new KEK alone now opens everything (init loads instead of creating).
  CliRun after = Admin("keys init --key-file " + new_kek + " --key-dir " + kd);
  EXPECT_EQ(after.exit_code, 0) << after.out;
  // And the old one no longer does.
  CliRun stale = Admin("keys init --key-file " + old_kek + " --key-dir " + kd);
  EXPECT_NE(stale.exit_code, 0);
  EXPECT_NE(stale.out.find("keys.unknown_kek"), std::string::npos) << stale.out;
  // A world-readable KEK file is refused.
  std::filesystem::permissions(new_kek, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  CliRun perm = Admin("keys init --key-file " + new_kek + " --key-dir " + kd);
  EXPECT_EQ(perm.exit_code, 3);
  EXPECT_NE(perm.out.find("keys.kek_file_permissions"), std::string::npos) << perm.out;
}

// Per-user data keys in the reference database (R-SEC-STO-3) through the
// real binary: rows are seeded with the sqlite3 shell (this test binary does
// not link the storage library; the storage conformance suite covers the
// holder on SQLite and PostgreSQL with real enrolled templates).
std::string Hex(const Bytes& b) {
  static const char* d = "0123456789ABCDEF";
  std::string s;
  for (auto c : b) s += {d[c >> 4], d[c & 15]};
  return s;
}
Bytes Unhex(const std::string& h) {
  Bytes b;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) b.push_back(std::stoi(h.substr(i, 2), nullptr, 16));
  return b;
}
CliRun Sql(const std::string& db, const std::string& sql) {
  const std::string cmd = "sqlite3 " + db + " \"" + sql + "\" 2>&1";
  return livegate::testing::RunShell(cmd);
}

// Two KEK files made by the real binary (old = before rotation, new =
// after) and a key manager holding only one of them each.
struct KekPair {
  std::string old_kek, new_kek;
  std::optional<KeyManager> old_only, new_only;
};
KekPair MakeKekPair(const std::filesystem::path& dir) {
  KekPair k{(dir / "old.kek").string(), (dir / "new.kek").string(), {}, {}};
  EXPECT_EQ(Admin("keys generate-kek --out " + k.old_kek).exit_code, 0);
  EXPECT_EQ(Admin("keys generate-kek --out " + k.new_kek).exit_code, 0);
  k.old_only.emplace(KeyManager::FromKeys(KeyManager::ReadKeyFile(k.old_kek).value()).value());
  k.new_only.emplace(KeyManager::FromKeys(KeyManager::ReadKeyFile(k.new_kek).value()).value());
  return k;
}

TEST_F(AdminCliTest, KeysRotateRewrapsUserKeysInTheDatabase) {
  if (std::system("command -v sqlite3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "no sqlite3 shell";
  const KekPair keks = MakeKekPair(dir_);
  const std::string& old_kek = keks.old_kek;
  const std::string& new_kek = keks.new_kek;
  const KeyManager& old_only = *keks.old_only;
  const KeyManager& new_only = *keks.new_only;
  const auto kd = (dir_ / "keys").string(), db = (dir_ / "ref.db").string();
  // A no-op "rotation" onto the old key creates the schema (the store migrates at open).
  CliRun schema = Admin("keys rotate --key-file " + old_kek + " --previous-key-file " + new_kek +
                        " --key-dir " + kd + " --database sqlite:" + db + " --json");
  ASSERT_EQ(schema.exit_code, 0) << schema.out;
  EXPECT_EQ(nlohmann::json::parse(schema.out)["examined"], 0);
  std::map<std::string, Bytes> data_keys;
  for (const std::string id : {"ann", "bob", "cyd"}) {
    data_keys[id] = KeyManager::NewDataKey();
    const Bytes w = old_only.WrapKey(data_keys[id], "livegate/user-data-key/" + id).value();
    const CliRun ins = Sql(db, "INSERT INTO accounts (account_id, srp_verifier, srp_salt, srp_group, "
                               "state, created_ms) VALUES ('" + id + "', X'01', X'02', 'g', 0, 1); "
                               "INSERT INTO user_keys VALUES ('" + id + "', X'" + Hex(w) +
                               "', X'03', 1, 1);");
    ASSERT_EQ(ins.exit_code, 0) << ins.out;
  }
  const std::string rotate = "keys rotate --key-file " + new_kek + " --previous-key-file " +
                             old_kek + " --key-dir " + kd + " --database sqlite:" + db + " --json";
  CliRun rot = Admin(rotate);
  ASSERT_EQ(rot.exit_code, 0) << rot.out;
  auto j = nlohmann::json::parse(rot.out);
  EXPECT_EQ(j["examined"], 3);
  EXPECT_EQ(j["rewrapped"], 3);
  for (const auto& [id, dk] : data_keys) {
    const CliRun sel = Sql(db, "SELECT hex(wrapped_data_key) FROM user_keys WHERE account_id = '" +
                                   id + "';");
    ASSERT_EQ(sel.exit_code, 0) << sel.out;
    const Bytes w = Unhex(sel.out.substr(0, sel.out.find('\n')));
    EXPECT_FALSE(new_only.NeedsRewrap(w)) << id;
    // The server with ONLY the new KEK unwraps the same data key.
    auto unwrapped = new_only.UnwrapKey(w, "livegate/user-data-key/" + id);
    ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
    EXPECT_EQ(*unwrapped, dk);
    EXPECT_EQ(old_only.UnwrapKey(w, "livegate/user-data-key/" + id).status().reason(),
              "keys.unknown_kek");
  }
  // Re-running is idempotent.
  CliRun again = Admin(rotate);
  ASSERT_EQ(again.exit_code, 0) << again.out;
  j = nlohmann::json::parse(again.out);
  EXPECT_EQ(j["rewrapped"], 0);
  EXPECT_EQ(j["already_current"], 3);
  // An unreachable database is a clear error, not a crash.
  CliRun bad = Admin("keys rotate --key-file " + new_kek + " --previous-key-file " + old_kek +
                     " --key-dir " + kd + " --database postgresql://nobody@127.0.0.1:1/none");
  EXPECT_EQ(bad.exit_code, 4) << bad.out;
  EXPECT_NE(bad.out.find("storage.unavailable"), std::string::npos) << bad.out;
}

// The operator's path during rotation: `keys rotate --config server.json`
// takes the NEW key from master_key.file, the OLD one from
// master_key.previous_file (0600 rule as for the current key) and the
// database from database.uri -- no key on the command line.
TEST_F(AdminCliTest, KeysRotateFromServerConfigUsesPreviousFile) {
  if (std::system("command -v sqlite3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "no sqlite3 shell";
  const KekPair keks = MakeKekPair(dir_);
  const std::string& old_kek = keks.old_kek;
  const std::string& new_kek = keks.new_kek;
  const KeyManager& old_only = *keks.old_only;
  const KeyManager& new_only = *keks.new_only;
  const auto kd = (dir_ / "keys").string(), db = (dir_ / "ref.db").string();
  ASSERT_EQ(Admin("keys rotate --key-file " + old_kek + " --previous-key-file " + new_kek +
                  " --key-dir " + kd + " --database sqlite:" + db + " --json").exit_code, 0);
  const Bytes dk = KeyManager::NewDataKey();
  const Bytes wrapped = old_only.WrapKey(dk, "livegate/user-data-key/ann").value();
  ASSERT_EQ(Sql(db, "INSERT INTO accounts (account_id, srp_verifier, srp_salt, srp_group, state, "
                    "created_ms) VALUES ('ann', X'01', X'02', 'g', 0, 1); INSERT INTO user_keys "
                    "VALUES ('ann', X'" + Hex(wrapped) + "', X'03', 1, 1);").exit_code, 0);
  auto write_config = [&](const nlohmann::json& master_key) {
    const auto cfg = dir_ / "server.json";
    std::ofstream(cfg) << nlohmann::json{
        {"tls", {{"generate", true}}},
        {"database", {{"uri", "sqlite:" + db}}},
        {"master_key", master_key},
        {"policy_file", (livegate::testing::SourceDir() / "config/policy.default.json").string()}}
                              .dump();
    return cfg.string();
  };
  // Without a previous key anywhere, rotation refuses to start.
  ::unsetenv("LIVEGATE_MASTER_KEY_PREVIOUS");
  CliRun none = Admin("keys rotate --config " + write_config({{"file", new_kek}}) + " --key-dir " + kd);
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.out.find("keys.no_previous_kek"), std::string::npos) << none.out;
  // A group-readable previous key file is refused like a current one.
  const std::string cfg = write_config({{"file", new_kek}, {"previous_file", old_kek}});
  std::filesystem::permissions(old_kek, std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  CliRun perm = Admin("keys rotate --config " + cfg + " --key-dir " + kd);
  EXPECT_NE(perm.exit_code, 0);
  EXPECT_NE(perm.out.find("keys.kek_file_permissions"), std::string::npos) << perm.out;
  std::filesystem::permissions(old_kek, std::filesystem::perms::group_read,
                               std::filesystem::perm_options::remove);
  CliRun rot = Admin("keys rotate --config " + cfg + " --key-dir " + kd + " --json");
  ASSERT_EQ(rot.exit_code, 0) << rot.out;
  const auto j = nlohmann::json::parse(rot.out);
  EXPECT_EQ(j["examined"], 1);
  EXPECT_EQ(j["rewrapped"], 1);
  const CliRun sel = Sql(db, "SELECT hex(wrapped_data_key) FROM user_keys WHERE account_id = 'ann';");
  const Bytes w = Unhex(sel.out.substr(0, sel.out.find('\n')));
  auto unwrapped = new_only.UnwrapKey(w, "livegate/user-data-key/ann");
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_EQ(*unwrapped, dk);
}

}  // namespace
}  // namespace livegate::crypto
