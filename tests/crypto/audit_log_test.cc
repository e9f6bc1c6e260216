// Tamper-evident audit log (R-SEC-SRV-4): each of modification, deletion,
// insertion and reordering is reported at the exact line index.
#include "crypto/audit_log.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/kdf.h"
#include "crypto/signing.h"
#include "support/test_data.h"

namespace livegate::crypto {
namespace {

// In-memory sink: the same contract as a database-backed one.
class MemorySink : public AuditSink {
 public:
  explicit MemorySink(std::vector<std::string>* lines) : lines_(lines) {}
  Status Append(std::string_view line) override {
    lines_->emplace_back(line);
    return Status::Ok();
  }
  Result<std::vector<std::string>> ReadAll() const override { return *lines_; }

 private:
  std::vector<std::string>* lines_;
};

struct Fixture {
  Ed25519KeyPair key = GenerateEd25519();
  std::vector<std::string> lines;
  std::int64_t now = 1'700'000'000'000;
  // 10 events, checkpoint every 4: e0 e1 e2 e3 C e4 e5 e6 e7 C e8 e9  (12 lines)
  Fixture() {
    AuditLogOptions o;
    o.checkpoint_every = 4;
    auto log = AuditLog::Open(std::make_unique<MemorySink>(&lines), key.private_key, o,
                              [this] { return now++; });
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    for (int i = 0; i < 10; ++i) {
      AuditEvent ev{"acct:" + std::to_string(i), "auth.verify", "dev:1",
                    i % 3 ? "ok" : "refused", {"pad.replay_detected"}};
      if (i == 6) ev.attributes = {{"flow_id", "f-6"}, {"remote", "[::1]:5000"}};
      EXPECT_TRUE((*log)->Append(ev).ok());
    }
  }
  AuditVerifyReport Verify(const std::vector<std::string>& l) const {
    return VerifyAuditLog(l, key.public_key);
  }
};

TEST(AuditLogTest, IntactLogVerifies) {
  Fixture f;
  ASSERT_EQ(f.lines.size(), 12u);
  const auto r = f.Verify(f.lines);
  EXPECT_TRUE(r.intact) << r.problem << " " << r.detail;
  EXPECT_EQ(r.entries, 12u);
  EXPECT_EQ(r.checkpoints, 2u);
  EXPECT_EQ(r.unsigned_tail, 2u);
  EXPECT_EQ(r.first_bad_index, -1);
}

// Issue 12, finding 8: what the database recorded (last checkpoint, last
// entry) exposes a log cut short that the chain alone cannot tell from a
// shorter log.
TEST(AuditLogTest, CutLogReportedAgainstTheRecordedHead) {
  Fixture f;  // e0 e1 e2 e3 C(4) e4 e5 e6 e7 C(9) e8 e9: seq 0..11
  auto hash = [&](std::size_t i) { return nlohmann::json::parse(f.lines[i])["hash"].get<std::string>(); };
  RecordedAuditHead rec{AuditGenesisHash(f.lines), "/var/audit.log", 9, hash(9), 11, hash(11)};
  ASSERT_EQ(rec.genesis_hash, hash(0));
  EXPECT_TRUE(VerifyAuditLogAgainst(f.lines, f.key.public_key, &rec).intact);
  auto cut = [&](std::size_t keep) { return std::vector<std::string>(f.lines.begin(), f.lines.begin() + keep); };
  // Entries after the last checkpoint removed: the chain is fine...
  EXPECT_TRUE(f.Verify(cut(10)).intact);
  // ...but not against the recorded last entry.
  auto r = VerifyAuditLogAgainst(cut(10), f.key.public_key, &rec);
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.problem, "truncated");
  EXPECT_EQ(r.first_bad_index, 10);
  EXPECT_NE(r.detail.find("the log ends at seq 9, but the database recorded entry seq 11"), std::string::npos)
      << r.detail;
  // A shorter valid prefix, before the last checkpoint.
  r = VerifyAuditLogAgainst(cut(6), f.key.public_key, &rec);
  EXPECT_EQ(r.problem, "truncated");
  EXPECT_NE(r.detail.find("recorded a signed checkpoint at seq 9"), std::string::npos) << r.detail;
  // Emptied.
  r = VerifyAuditLogAgainst({}, f.key.public_key, &rec);
  EXPECT_EQ(r.problem, "truncated");
  EXPECT_NE(r.detail.find("the log is empty"), std::string::npos) << r.detail;
  // Another log in its place.
  Fixture other;
  RecordedAuditHead same_key = rec;
  r = VerifyAuditLogAgainst(other.lines, other.key.public_key, &same_key);
  EXPECT_EQ(r.problem, "replaced");
  // The recorded head may lag the file (a crash between the line and the
  // database): a longer log is fine.
  RecordedAuditHead older = rec;
  older.head_seq = 7;
  older.head_hash = hash(7);
  older.checkpoint_seq = 4;
  older.checkpoint_hash = hash(4);
  EXPECT_TRUE(VerifyAuditLogAgainst(f.lines, f.key.public_key, &older).intact);
}

TEST(AuditLogTest, OnAppendReportsEveryLineAndCheckpoint) {
  auto key = GenerateEd25519();
  std::vector<std::string> lines;
  std::vector<AuditHead> heads;
  AuditLogOptions o;
  o.checkpoint_every = 2;
  o.on_append = [&](const AuditHead& h) {
    heads.push_back(h);
    return Status::Ok();
  };
  auto log = AuditLog::Open(std::make_unique<MemorySink>(&lines), key.private_key, o);
  ASSERT_TRUE(log.ok());
  std::uint64_t seq = 99;
  ASSERT_TRUE((*log)->Append({"acct:a", "auth.verify", "", "ok"}, &seq).ok());
  EXPECT_EQ(seq, 0u);
  ASSERT_TRUE((*log)->Append({"acct:a", "auth.verify", "", "ok"}, &seq).ok());
  EXPECT_EQ(seq, 1u);
  ASSERT_EQ(heads.size(), 3u);  // e0 e1 C2
  EXPECT_EQ(heads[2].seq, 2u);
  EXPECT_TRUE(heads[2].checkpoint);
  EXPECT_FALSE(heads[1].checkpoint);
  for (const auto& h : heads) EXPECT_EQ(h.genesis_hash, heads[0].hash);
  // A failing record is reported, the line stays written and chained.
  o.on_append = [](const AuditHead&) { return Status(StatusCode::kUnavailable, "storage.unavailable", "down"); };
  auto log2 = AuditLog::Open(std::make_unique<MemorySink>(&lines), key.private_key, o);
  ASSERT_TRUE(log2.ok());
  const Status not_recorded = (*log2)->Append({"acct:a", "auth.verify", "", "ok"});
  EXPECT_EQ(not_recorded.reason(), "audit.head_not_recorded");
  EXPECT_NE(not_recorded.message().find("storage.unavailable: down"), std::string::npos) << not_recorded.message();
  EXPECT_EQ(lines.size(), 4u);
  EXPECT_TRUE(VerifyAuditLog(lines, key.public_key).intact);
}

TEST(AuditLogTest, ModifiedEntryReported) {
  Fixture f;
  auto l = f.lines;
  auto j = nlohmann::json::parse(l[6]);
  j["actor"] = "acct:attacker";
  l[6] = j.dump();
  const auto r = f.Verify(l);
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.problem, "modified");
  EXPECT_EQ(r.first_bad_index, 6);
}

TEST(AuditLogTest, ModifiedAttributeReported) {
  Fixture f;
  auto l = f.lines;
  auto j = nlohmann::json::parse(l[7]);  // e6, the one with attributes
  ASSERT_EQ(j["attrs"]["remote"], "[::1]:5000");
  j["attrs"]["remote"] = "[::1]:6000";
  l[7] = j.dump();
  const auto r = f.Verify(l);
  EXPECT_EQ(r.problem, "modified");
  EXPECT_EQ(r.first_bad_index, 7);
}

TEST(AuditLogTest, ModifiedAndRehashedEntryReported) {
  Fixture f;
  // The attacker rewrites line 2 and recomputes its hash: the next line no
  // longer commits to it. Simulate by re-logging a different event chain
  // from the same start and splicing its line 2 in.
  std::vector<std::string> other;
  AuditLogOptions o;
  o.checkpoint_every = 4;
  std::int64_t t = 1'700'000'000'000;
  auto log = AuditLog::Open(std::make_unique<MemorySink>(&other), f.key.private_key, o,
                            [&t] { return t++; });
  ASSERT_TRUE((*log)->Append({"acct:0", "auth.verify", "dev:1", "refused", {"pad.replay_detected"}}).ok());
  ASSERT_TRUE((*log)->Append({"acct:1", "auth.verify", "dev:1", "ok", {"pad.replay_detected"}}).ok());
  ASSERT_TRUE((*log)->Append({"acct:FORGED", "auth.verify", "dev:1", "ok", {}}).ok());
  ASSERT_EQ(other[0], f.lines[0]);
  ASSERT_EQ(other[1], f.lines[1]);
  auto l = f.lines;
  l[2] = other[2];
  const auto r = f.Verify(l);
  EXPECT_EQ(r.problem, "modified");
  EXPECT_EQ(r.first_bad_index, 2);
}

TEST(AuditLogTest, DeletedEntryReported) {
  Fixture f;
  auto l = f.lines;
  l.erase(l.begin() + 7);
  const auto r = f.Verify(l);
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.problem, "deleted");
  EXPECT_EQ(r.first_bad_index, 7);
}

TEST(AuditLogTest, InsertedDuplicateReported) {
  Fixture f;
  auto l = f.lines;
  l.insert(l.begin() + 4, l[3]);  // a copy of line 3 inserted at 4
  const auto r = f.Verify(l);
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.problem, "inserted");
  EXPECT_EQ(r.first_bad_index, 4);
}

TEST(AuditLogTest, InsertedWellFormedEntryReported) {
  Fixture f;
  // A forged entry with the right seq, prev and hash placed before the
  // genuine line 3 (the forger knows the public chain but not the key).
  std::vector<std::string> other;
  AuditLogOptions o;
  o.checkpoint_every = 4;
  std::int64_t t = 1'700'000'000'000;
  auto log = AuditLog::Open(std::make_unique<MemorySink>(&other), f.key.private_key, o,
                            [&t] { return t++; });
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*log)->Append({"acct:" + std::to_string(i), "auth.verify", "dev:1",
                                i % 3 ? "ok" : "refused", {"pad.replay_detected"}}).ok());
  }
  ASSERT_TRUE((*log)->Append({"acct:FORGED", "enrol.commit", "", "ok", {}}).ok());
  ASSERT_EQ(other[2], f.lines[2]);
  auto l = f.lines;
  l.insert(l.begin() + 3, other[3]);
  const auto r = f.Verify(l);
  EXPECT_EQ(r.problem, "inserted");
  EXPECT_EQ(r.first_bad_index, 3);
}

TEST(AuditLogTest, ReorderedEntriesReported) {
  Fixture f;
  auto l = f.lines;
  std::swap(l[8], l[9]);
  const auto r = f.Verify(l);
  EXPECT_FALSE(r.intact);
  EXPECT_EQ(r.problem, "reordered");
  EXPECT_EQ(r.first_bad_index, 8);
}

TEST(AuditLogTest, WrongPublicKeyFailsAtFirstCheckpoint) {
  Fixture f;
  const auto r = VerifyAuditLog(f.lines, GenerateEd25519().public_key);
  EXPECT_EQ(r.problem, "modified");
  EXPECT_EQ(r.first_bad_index, 4);
}

TEST(AuditLogTest, MalformedLineReported) {
  Fixture f;
  auto l = f.lines;
  l[5] = "{not json";
  const auto r = f.Verify(l);
  EXPECT_EQ(r.problem, "malformed");
  EXPECT_EQ(r.first_bad_index, 5);
}

TEST(AuditLogTest, RefusesFreeTextAndBlobs) {
  std::vector<std::string> lines;
  auto key = GenerateEd25519();
  auto log = AuditLog::Open(std::make_unique<MemorySink>(&lines), key.private_key);
  ASSERT_TRUE(log.ok());
  // Free text with spaces, JSON, or a long base64 blob (a template) is refused.
  EXPECT_EQ((*log)->Append({"acct:1", "auth verify", "", "ok", {}}).reason(), "audit.bad_field");
  EXPECT_EQ((*log)->Append({"acct:1", "auth.verify", std::string(2000, 'A'), "ok", {}}).reason(),
            "audit.bad_field");
  EXPECT_EQ((*log)->Append({"acct:1", "a", "", "ok", {"x+y=="}}).reason(), "audit.bad_field");
  EXPECT_EQ((*log)->Append({"", "a", "", "ok", {}}).reason(), "audit.bad_field");
  AuditEvent bad_attr{"acct:1", "a", "", "ok", {}};
  bad_attr.attributes = {{"Template", "x"}};
  EXPECT_EQ((*log)->Append(bad_attr).reason(), "audit.bad_field");
  bad_attr.attributes = {{"note", "free text here"}};
  EXPECT_EQ((*log)->Append(bad_attr).reason(), "audit.bad_field");
  EXPECT_TRUE(lines.empty());
}

TEST(AuditLogTest, FileSinkReopensAndContinuesChain) {
  const auto dir = livegate::testing::MakeTempDir("audit");
  const std::string path = (dir / "audit.jsonl").string();
  auto key = GenerateEd25519();
  {
    auto log = AuditLog::Open(std::move(FileAuditSink::Open(path)).value(), key.private_key);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append({"system", "server.start", "", "ok", {}}).ok());
    ASSERT_TRUE((*log)->Checkpoint().ok());
  }
  {
    auto log = AuditLog::Open(std::move(FileAuditSink::Open(path)).value(), key.private_key);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_EQ((*log)->next_seq(), 2u);
    ASSERT_TRUE((*log)->Append({"system", "server.stop", "", "ok", {}}).ok());
  }
  auto lines = ReadAuditLines(path);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 3u);
  const auto r = VerifyAuditLog(*lines, key.public_key);
  EXPECT_TRUE(r.intact) << r.detail;
  EXPECT_EQ(r.unsigned_tail, 1u);
  // A tampered file is refused at open.
  auto bad = *lines;
  bad.erase(bad.begin());
  {
    std::ofstream out(path, std::ios::trunc);
    for (auto& l : bad) out << l << "\n";
  }
  auto reopened = AuditLog::Open(std::move(FileAuditSink::Open(path)).value(), key.private_key);
  EXPECT_EQ(reopened.status().reason(), "audit.tampered");
}

TEST(SigningTest, Ed25519PemRoundTripAndVerify) {
  auto kp = GenerateEd25519();
  const std::string pem = Ed25519PublicKeyToPem(kp.public_key);
  EXPECT_NE(pem.find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_EQ(*Ed25519PublicKeyFromPem(pem), kp.public_key);
  auto sig = Ed25519Sign(kp.private_key, ToBytes("msg"));
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(Ed25519Verify(kp.public_key, ToBytes("msg"), *sig));
  EXPECT_FALSE(Ed25519Verify(kp.public_key, ToBytes("msh"), *sig));
  EXPECT_EQ(Ed25519PublicKeyFromPem("junk").status().reason(), "sign.bad_public_key_pem");
}

}  // namespace
}  // namespace livegate::crypto
