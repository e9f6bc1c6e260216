// The storage conformance suite: every backend must pass the same tests
// (R-SRV-DB-1, R-SRV-QJ-5, R-SRV-CMP-2, R-SEC-SRV-3, decision 11.11).
#include <atomic>
#include <cmath>
#include <map>
#include <random>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "crypto/key_manager.h"
#include "crypto/key_store.h"
#include "storage/reference_store.h"
#include "storage/store_test_env.h"
#include "storage/template_protection.h"
#include "storage/user_key_holder.h"

#include <SQLiteCpp/SQLiteCpp.h>

namespace livegate::storage {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Backend;
using testing::ManualClock;
using testing::TestDatabase;

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

Account MakeAccount(const std::string& id) {
  Account a;
  a.account_id = id;
  a.srp_verifier = B("verifier-" + id);
  a.srp_salt = B("salt-" + id);
  a.srp_group = "modp/srp/3072";
  return a;
}
Device MakeDevice(const std::string& id, const std::string& account, const std::string& type) {
  Device d;
  d.device_id = id;
  d.account_id = account;
  d.device_type = type;
  d.srp_verifier = B("dv-" + id);
  d.srp_salt = B("ds-" + id);
  d.srp_group = "modp/srp/3072";
  return d;
}
Reference MakeReference(const std::string& account, const std::string& type, std::string blob) {
  Reference r;
  r.account_id = account;
  r.device_type = type;
  r.protected_template = B(blob);
  r.transform_version = 1;
  r.source = "capture";
  return r;
}
UserKey MakeKey(const std::string& account) {
  UserKey k;
  k.account_id = account;
  k.wrapped_data_key = B("wrapped-" + account);
  k.sealed_transform_key = B("tk-" + account);
  return k;
}

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    LG_REQUIRE_BACKEND(GetParam());
    db_ = std::make_unique<TestDatabase>(GetParam());
    auto s = db_->Open(clock_.AsClock());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  std::unique_ptr<ReferenceStore> OpenAnother() {
    auto s = db_->Open(clock_.AsClock());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  ManualClock clock_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<ReferenceStore> store_;
};

TEST_P(StoreConformance, MigratesFromEmptyAndReopenIsIdempotent) {
  EXPECT_EQ(store_->SchemaVersion().value(), kSchemaVersion);
  ASSERT_TRUE(store_->CreateAccount(MakeAccount("alice")).ok());
  store_.reset();
  for (int i = 0; i < 2; ++i) {
    auto again = db_->Open(clock_.AsClock());
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ((*again)->SchemaVersion().value(), kSchemaVersion);
    EXPECT_TRUE((*again)->GetAccount("alice").ok());
  }
}

// Issue 12, finding 8 (schema v2): where an audit log stood, moving only
// forward, found by its first entry or by its path.
TEST_P(StoreConformance, AuditHeadsMoveOnlyForward) {
  AuditHeadRecord r;
  r.genesis_hash = "g1";
  r.log_path = "/var/lib/livegate/audit.log";
  r.head_seq = 5;
  r.head_hash = "h5";
  ASSERT_TRUE(store_->RecordAuditHead(r).ok());
  r.head_seq = 6;
  r.head_hash = "h6";
  r.checkpoint_seq = 6;
  r.checkpoint_hash = "h6";
  ASSERT_TRUE(store_->RecordAuditHead(r).ok());
  r.head_seq = 4;  // late and out of order: ignored
  r.head_hash = "h4";
  r.checkpoint_seq = -1;
  ASSERT_TRUE(store_->RecordAuditHead(r).ok());
  auto got = store_->GetAuditHead("g1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->head_seq, 6);
  EXPECT_EQ((*got)->head_hash, "h6");
  EXPECT_EQ((*got)->checkpoint_seq, 6);
  EXPECT_EQ((*got)->checkpoint_hash, "h6");
  EXPECT_FALSE(store_->GetAuditHead("g2")->has_value());
  auto by_path = store_->ListAuditHeadsByPath("/var/lib/livegate/audit.log");
  ASSERT_TRUE(by_path.ok());
  ASSERT_EQ(by_path->size(), 1u);
  EXPECT_EQ(by_path->front().genesis_hash, "g1");
  EXPECT_TRUE(store_->ListAuditHeadsByPath("/elsewhere")->empty());
  EXPECT_EQ(store_->RecordAuditHead(AuditHeadRecord{}).reason(), "storage.invalid_argument");
}

TEST_P(StoreConformance, RefusesSchemaNewerThanCode) {
  // Simulate a database written by a future livegate.
  ASSERT_TRUE(store_->Transact([](StoreOps&) { return Status::Ok(); }).ok());
  store_.reset();
  {
    // Write the marker row with SQL the interface does not expose.
    if (GetParam() == Backend::kSqlite) {
      SQLite::Database raw(db_->sqlite_path(), SQLite::OPEN_READWRITE);
      raw.exec("INSERT INTO schema_version (version, applied_ms) VALUES (99, 0)");
    } else {
      pqxx::connection c(testing::PgUri());
      pqxx::work w(c);
      w.exec("INSERT INTO " + db_->pg_schema() + ".schema_version (version, applied_ms) VALUES (99, 0)");
      w.commit();
    }
  }
  auto reopened = db_->Open(clock_.AsClock());
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(reopened.status().reason(), "storage.schema_too_new");
}

// R-SRV-DB-1: user names and identities (accounts, devices) on every backend.
TEST_P(StoreConformance, AccountsLifecycle) {
  Account a = MakeAccount("alice");
  ASSERT_TRUE(store_->CreateAccount(a).ok());
  Status dup = store_->CreateAccount(a);
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.reason(), "storage.account_exists");
  EXPECT_EQ(store_->GetAccount("bob").status().reason(), "storage.account_not_found");
  EXPECT_EQ(store_->CreateAccount(MakeAccount("")).reason(), "storage.invalid_argument");

  auto got = store_->GetAccount("alice");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->srp_verifier, a.srp_verifier);
  EXPECT_EQ(got->srp_salt, a.srp_salt);
  EXPECT_EQ(got->srp_group, "modp/srp/3072");
  EXPECT_EQ(got->state, AccountState::kActive);
  EXPECT_EQ(got->failure_count, 0);
  EXPECT_FALSE(got->locked_until.has_value());
  EXPECT_FALSE(got->last_success.has_value());
  EXPECT_EQ(got->created, clock_.Now());  // created defaults to the injected clock

  EXPECT_EQ(store_->RecordAccountFailure("alice").value(), 1);
  EXPECT_EQ(store_->RecordAccountFailure("alice").value(), 2);
  const Timestamp until = clock_.Now() + seconds(300);
  ASSERT_TRUE(store_->SetLockedUntil("alice", until).ok());
  ASSERT_TRUE(store_->SetAccountState("alice", AccountState::kLocked).ok());
  got = store_->GetAccount("alice");
  EXPECT_EQ(got->failure_count, 2);
  EXPECT_EQ(got->locked_until, until);
  EXPECT_EQ(got->state, AccountState::kLocked);

  const Timestamp ok_at = clock_.Now() + seconds(400);
  ASSERT_TRUE(store_->RecordAccountSuccess("alice", ok_at).ok());
  got = store_->GetAccount("alice");
  EXPECT_EQ(got->failure_count, 0);
  EXPECT_FALSE(got->locked_until.has_value());
  EXPECT_EQ(got->last_success, ok_at);

  ASSERT_TRUE(store_->SetAccountVerifier("alice", B("v2"), B("s2"), "modp/srp/4096").ok());
  got = store_->GetAccount("alice");
  EXPECT_EQ(got->srp_verifier, B("v2"));
  EXPECT_EQ(got->srp_group, "modp/srp/4096");
  EXPECT_EQ(store_->RecordAccountFailure("nobody").status().reason(), "storage.account_not_found");
  EXPECT_EQ(store_->SetAccountState("nobody", AccountState::kActive).reason(),
            "storage.account_not_found");
}

TEST_P(StoreConformance, DevicesBelongToExistingAccounts) {
  EXPECT_EQ(store_->PutDevice(MakeDevice("d1", "alice", "android")).reason(),
            "storage.account_not_found");
  ASSERT_TRUE(store_->CreateAccount(MakeAccount("alice")).ok());
  ASSERT_TRUE(store_->PutDevice(MakeDevice("d1", "alice", "android")).ok());
  ASSERT_TRUE(store_->PutDevice(MakeDevice("d2", "alice", "ios")).ok());
  Status dup = store_->PutDevice(MakeDevice("d1", "alice", "ios"));
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.reason(), "storage.device_exists");

  auto d = store_->GetDevice("d1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->account_id, "alice");
  EXPECT_EQ(d->device_type, "android");
  EXPECT_EQ(d->srp_verifier, B("dv-d1"));
  EXPECT_EQ(d->last_seen, clock_.Now());
  const Timestamp later = clock_.Now() + seconds(60);
  ASSERT_TRUE(store_->TouchDevice("d1", later).ok());
  EXPECT_EQ(store_->GetDevice("d1")->last_seen, later);

  auto list = store_->ListDevices("alice");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].device_id, "d1");
  EXPECT_EQ((*list)[1].device_id, "d2");

  ASSERT_TRUE(store_->DeleteDevice("d2").ok());
  EXPECT_EQ(store_->GetDevice("d2").status().reason(), "storage.device_not_found");
  EXPECT_EQ(store_->DeleteDevice("d2").reason(), "storage.device_not_found");
  EXPECT_EQ(store_->TouchDevice("d9", later).reason(), "storage.device_not_found");
}

TEST_P(StoreConformance, OneReferencePerDeviceType) {
  EXPECT_EQ(store_->PutReference(MakeReference("alice", "android", "t1")).reason(),
            "storage.account_not_found");
  ASSERT_TRUE(store_->CreateAccount(MakeAccount("alice")).ok());
  ASSERT_TRUE(store_->PutReference(MakeReference("alice", "android", "t1")).ok());
  ASSERT_TRUE(store_->PutReference(MakeReference("alice", "ios", "t2")).ok());
  // R-SRV-QJ-5: a new reference for the same device type replaces the old.
  Reference replacement = MakeReference("alice", "android", "t3");
  replacement.source = "batch:import-2026";
  replacement.transform_version = 2;
  ASSERT_TRUE(store_->PutReference(replacement).ok());

  auto r = store_->GetReference("alice", "android");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->protected_template, B("t3"));
  EXPECT_EQ(r->source, "batch:import-2026");
  EXPECT_EQ(r->transform_version, 2);
  EXPECT_EQ(store_->GetReference("alice", "ios")->protected_template, B("t2"));
  EXPECT_EQ(store_->ListReferences("alice")->size(), 2u);
  EXPECT_EQ(store_->GetReference("alice", "web").status().reason(), "storage.reference_not_found");
  EXPECT_EQ(store_->PutReference(MakeReference("alice", "web", "")).reason(),
            "storage.invalid_argument");

  ASSERT_TRUE(store_->DeleteReference("alice", "ios").ok());
  EXPECT_EQ(store_->DeleteReference("alice", "ios").reason(), "storage.reference_not_found");
  EXPECT_EQ(store_->ListReferences("alice")->size(), 1u);
}

TEST_P(StoreConformance, BinaryBlobsRoundTripExactly) {
  ASSERT_TRUE(store_->CreateAccount(MakeAccount("alice")).ok());
  Bytes all(256 * 4);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i * 7);
  Reference r = MakeReference("alice", "android", "x");
  r.protected_template = all;
  ASSERT_TRUE(store_->PutReference(r).ok());
  EXPECT_EQ(store_->GetReference("alice", "android")->protected_template, all);
}

TEST_P(StoreConformance, UserKeys) {
  ASSERT_TRUE(store_->CreateAccount(MakeAccount("alice")).ok());
  EXPECT_EQ(store_->GetUserKey("alice").status().reason(), "storage.user_key_not_found");
  ASSERT_TRUE(store_->PutUserKey(MakeKey("alice")).ok());
  EXPECT_EQ(store_->PutUserKey(MakeKey("alice")).reason(), "storage.user_key_exists");
  UserKey k2 = MakeKey("alice");
  k2.wrapped_data_key = B("rewrapped");
  k2.transform_version = 2;
  ASSERT_TRUE(store_->ReplaceUserKey(k2).ok());
  auto k = store_->GetUserKey("alice");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->wrapped_data_key, B("rewrapped"));
  EXPECT_EQ(k->transform_version, 2);
  EXPECT_EQ(store_->ReplaceUserKey(MakeKey("bob")).reason(), "storage.user_key_not_found");
}

// R-FLOW-MSG-3, R-FLOW-DER-10: deregistration deletes that user's references, devices and data key.
TEST_P(StoreConformance, DeregistrationShredsOnlyThatUser) {
  for (const char* u : {"alice", "bob"}) {
    const std::string id = u;
    ASSERT_TRUE(store_->CreateAccount(MakeAccount(id)).ok());
    ASSERT_TRUE(store_->PutUserKey(MakeKey(id)).ok());
    ASSERT_TRUE(store_->PutDevice(MakeDevice(id + "-d1", id, "android")).ok());
    ASSERT_TRUE(store_->PutDevice(MakeDevice(id + "-d2", id, "ios")).ok());
    ASSERT_TRUE(store_->PutReference(MakeReference(id, "android", "t")).ok());
    ASSERT_TRUE(store_->PutReference(MakeReference(id, "ios", "t")).ok());
  }
  ASSERT_TRUE(store_->DeleteUserBiometrics("alice").ok());
  EXPECT_TRUE(store_->ListReferences("alice")->empty());
  EXPECT_TRUE(store_->ListDevices("alice")->empty());
  EXPECT_EQ(store_->GetUserKey("alice").status().reason(), "storage.user_key_not_found");
  EXPECT_TRUE(store_->GetAccount("alice").ok());  // the account row stays
  EXPECT_EQ(store_->ListReferences("bob")->size(), 2u);
  EXPECT_EQ(store_->ListDevices("bob")->size(), 2u);
  EXPECT_TRUE(store_->GetUserKey("bob").ok());
  EXPECT_EQ(store_->DeleteUserBiometrics("carol").reason(), "storage.account_not_found");
}

// R-SRV-DB-1: risk data on every backend.
TEST_P(StoreConformance, RiskHistory) {
  const Timestamp t0 = clock_.Now();
  auto ev = [&](int sec, const std::string& dev, bool ok) {
    RiskEvent e;
    e.account_id = "alice";
    e.device_id = dev;
    e.event_type = "authentication";
    e.success = ok;
    e.network = "192.0.2.0/24";
    e.platform = "android 14 / app 1.2";
    e.reason_codes = ok ? "" : "compare.no_match";
    e.at = t0 + seconds(sec);
    return e;
  };
  ASSERT_TRUE(store_->AppendRiskEvent(ev(1, "d1", false)).ok());
  ASSERT_TRUE(store_->AppendRiskEvent(ev(2, "d2", false)).ok());
  ASSERT_TRUE(store_->AppendRiskEvent(ev(3, "d1", true)).ok());
  ASSERT_TRUE(store_->AppendRiskEvent(ev(4, "d1", false)).ok());
  EXPECT_EQ(store_->CountFailures("alice", "", t0).value(), 3);
  EXPECT_EQ(store_->CountFailures("alice", "d1", t0).value(), 2);
  EXPECT_EQ(store_->CountFailures("alice", "d1", t0 + seconds(2)).value(), 1);
  EXPECT_EQ(store_->CountFailures("bob", "", t0).value(), 0);
  auto list = store_->ListRiskEvents("alice", t0 + seconds(2), 2);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].at, t0 + seconds(4));  // newest first
  EXPECT_EQ((*list)[0].reason_codes, "compare.no_match");
  EXPECT_EQ((*list)[1].at, t0 + seconds(3));
  EXPECT_TRUE((*list)[1].success);
  EXPECT_EQ((*list)[1].platform, "android 14 / app 1.2");
}

// Failures against unknown account ids (the server's lockout counts them
// too) are purged once old; the history of existing accounts is kept.
TEST_P(StoreConformance, PurgeOrphanRiskEventsKeepsKnownAccounts) {
  ASSERT_TRUE(store_->CreateAccount(MakeAccount("alice")).ok());
  const Timestamp t0 = clock_.Now();
  auto ev = [&](const std::string& account, int sec) {
    RiskEvent e;
    e.account_id = account;
    e.event_type = "registration";
    e.success = false;
    e.at = t0 + seconds(sec);
    return e;
  };
  ASSERT_TRUE(store_->AppendRiskEvent(ev("alice", 1)).ok());
  ASSERT_TRUE(store_->AppendRiskEvent(ev("ghost", 1)).ok());
  ASSERT_TRUE(store_->AppendRiskEvent(ev("ghost", 10)).ok());
  ASSERT_TRUE(store_->AppendRiskEvent(ev("ghost-2", 2)).ok());
  auto n = store_->PurgeOrphanRiskEvents(t0 + seconds(5));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2);  // ghost@1 and ghost-2@2
  EXPECT_EQ(store_->ListRiskEvents("alice", Timestamp{}, 10)->size(), 1u);
  auto ghost = store_->ListRiskEvents("ghost", Timestamp{}, 10);
  ASSERT_EQ(ghost->size(), 1u);
  EXPECT_EQ((*ghost)[0].at, t0 + seconds(10));  // newer than `before`: kept
  EXPECT_TRUE(store_->ListRiskEvents("ghost-2", Timestamp{}, 10)->empty());
  EXPECT_EQ(store_->PurgeOrphanRiskEvents(t0 + seconds(5)).value(), 0);  // idempotent
}

FlowState MakeFlow(const std::string& id, Timestamp expires) {
  FlowState f;
  f.flow_id = id;
  f.flow_type = "registration";
  f.step = 2;
  f.account_id = "alice";
  f.channel_state = Bytes{0, 1, 2, 255, 0};
  f.challenge_json = R"({"actions":["blink","nod"]})";
  f.expires_at = expires;
  return f;
}

TEST_P(StoreConformance, FlowStateVersionedAndExpiring) {
  FlowState f = MakeFlow("f1", clock_.Now() + seconds(60));
  ASSERT_EQ(store_->CreateFlow(f).value(), 1);
  EXPECT_EQ(store_->CreateFlow(f).status().reason(), "storage.flow_exists");
  auto got = store_->GetFlow("f1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->channel_state, f.channel_state);
  EXPECT_EQ(got->challenge_json, f.challenge_json);
  EXPECT_EQ(got->version, 1);

  FlowState next = *got;
  next.step = 4;
  ASSERT_EQ(store_->UpdateFlow(next).value(), 2);
  // A second writer holding the old version loses.
  auto stale = store_->UpdateFlow(next);
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(stale.status().reason(), "storage.flow_conflict");
  EXPECT_EQ(store_->GetFlow("f1")->step, 4);
  EXPECT_EQ(store_->GetFlow("nope").status().reason(), "storage.flow_not_found");

  clock_.Advance(seconds(60));  // expiry is inclusive
  auto expired = store_->GetFlow("f1");
  EXPECT_EQ(expired.status().code(), StatusCode::kExpired);
  EXPECT_EQ(expired.status().reason(), "storage.flow_expired");
  next.version = 2;
  EXPECT_EQ(store_->UpdateFlow(next).status().reason(), "storage.flow_expired");

  ASSERT_TRUE(store_->CreateFlow(MakeFlow("f2", clock_.Now() + seconds(60))).ok());
  ASSERT_TRUE(store_->ConsumeNonce("s", "n-old", clock_.Now()).ok());
  EXPECT_EQ(store_->PurgeExpired().value(), 2);  // f1 and n-old
  EXPECT_TRUE(store_->GetFlow("f2").ok());
  ASSERT_TRUE(store_->DeleteFlow("f2").ok());
  EXPECT_EQ(store_->DeleteFlow("f2").reason(), "storage.flow_not_found");
}

// R-SEC-SRV-3, R-FLOW-X2: a session nonce is consumed once.
TEST_P(StoreConformance, NonceIsSingleUse) {
  const Timestamp exp = clock_.Now() + seconds(300);
  ASSERT_TRUE(store_->ConsumeNonce("flow-1", "abc", exp).ok());
  Status again = store_->ConsumeNonce("flow-1", "abc", exp);
  EXPECT_EQ(again.code(), StatusCode::kReplay);
  EXPECT_EQ(again.reason(), "storage.nonce_used");
  EXPECT_TRUE(store_->ConsumeNonce("flow-2", "abc", exp).ok());  // scopes are separate
  EXPECT_EQ(store_->ConsumeNonce("flow-1", "", exp).reason(), "storage.invalid_argument");
}

// Two store objects = two server processes' worth of connections. For every
// nonce, exactly one of the racing consumers wins.
TEST_P(StoreConformance, ConcurrentNonceConsumptionHasExactlyOneWinner) {
  auto other = OpenAnother();
  ASSERT_NE(other, nullptr);
  constexpr int kNonces = 60;
  constexpr int kThreadsPerStore = 3;
  std::atomic<int> wins{0}, replays{0}, others{0};
  const Timestamp exp = clock_.Now() + seconds(300);
  std::vector<std::thread> threads;
  for (ReferenceStore* s : {store_.get(), other.get()}) {
    for (int t = 0; t < kThreadsPerStore; ++t) {
      threads.emplace_back([&, s] {
        for (int i = 0; i < kNonces; ++i) {
          Status st = s->ConsumeNonce("race", "nonce-" + std::to_string(i), exp);
          if (st.ok()) ++wins;
          else if (st.reason() == "storage.nonce_used") ++replays;
          else ++others;
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), kNonces);
  EXPECT_EQ(replays.load(), kNonces * (2 * kThreadsPerStore - 1));
  EXPECT_EQ(others.load(), 0);
}

// Two processes serving alternate steps of one flow: of two concurrent
// advances from the same version exactly one succeeds.
TEST_P(StoreConformance, ConcurrentFlowAdvanceHasExactlyOneWinner) {
  auto other = OpenAnother();
  ASSERT_NE(other, nullptr);
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const std::string id = "f" + std::to_string(round);
    ASSERT_TRUE(store_->CreateFlow(MakeFlow(id, clock_.Now() + seconds(60))).ok());
    FlowState a = store_->GetFlow(id).value();
    FlowState b = other->GetFlow(id).value();
    a.step = 5;
    b.step = 6;
    Result<std::int64_t> ra = Status::Internal("unset", "");
    Result<std::int64_t> rb = Status::Internal("unset", "");
    std::thread ta([&] { ra = store_->UpdateFlow(a); });
    std::thread tb([&] { rb = other->UpdateFlow(b); });
    ta.join();
    tb.join();
    ASSERT_NE(ra.ok(), rb.ok()) << "round " << round;
    const Result<std::int64_t>& loser = ra.ok() ? rb : ra;
    EXPECT_EQ(loser.status().reason(), "storage.flow_conflict");
    EXPECT_EQ(store_->GetFlow(id)->step, ra.ok() ? 5 : 6);
  }
}

// Open flows per account (issue 12: the open-flow cap and the lockout's
// proofs in flight): unexpired flows of the account, filtered by step.
TEST_P(StoreConformance, CountOpenFlowsPerAccountAndStep) {
  auto flow = [&](const std::string& id, const std::string& account, int step, int ttl_s) {
    FlowState f = MakeFlow(id, clock_.Now() + seconds(ttl_s));
    f.account_id = account;
    f.step = step;
    return f;
  };
  ASSERT_TRUE(store_->CreateFlow(flow("c1", "acc", 2, 60)).ok());
  ASSERT_TRUE(store_->CreateFlow(flow("c2", "acc", 20, 60)).ok());
  ASSERT_TRUE(store_->CreateFlow(flow("c3", "acc", 21, 60)).ok());
  ASSERT_TRUE(store_->CreateFlow(flow("c4", "acc", 2, 10)).ok());
  ASSERT_TRUE(store_->CreateFlow(flow("c5", "other", 2, 60)).ok());
  EXPECT_EQ(store_->CountOpenFlows("acc", {}).value(), 4);
  EXPECT_EQ(store_->CountOpenFlows("acc", {2, 20}).value(), 3);
  EXPECT_EQ(store_->CountOpenFlows("acc", {20}).value(), 1);
  EXPECT_EQ(store_->CountOpenFlows("nobody", {}).value(), 0);
  clock_.Advance(seconds(10));  // c4 expires (expiry is inclusive)
  EXPECT_EQ(store_->CountOpenFlows("acc", {2, 20}).value(), 2);
}

// The per-account guard: transactions guarding one account id run one at a
// time, across store objects (processes). Each reads a count, waits, then
// writes count + 1; without the guard the increments would be lost.
TEST_P(StoreConformance, GuardAccountSerialisesTransactionsOfOneAccount) {
  auto other = OpenAnother();
  ASSERT_NE(other, nullptr);
  constexpr int kPerStore = 6;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (ReferenceStore* s : {store_.get(), other.get()}) {
    for (int i = 0; i < kPerStore; ++i) {
      threads.emplace_back([&, s, i] {
        Status st = s->Transact([&](StoreOps& ops) -> Status {
          LG_RETURN_IF_ERROR(ops.GuardAccount("guarded"));
          LG_ASSIGN_OR_RETURN(int n, ops.CountOpenFlows("guarded", {}));
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          FlowState f = MakeFlow("g" + std::to_string(n), clock_.Now() + seconds(60));
          f.account_id = "guarded";
          return ops.CreateFlow(f).status();  // flow_exists if two read the same n
        });
        if (!st.ok()) {
          ++failed;
          ADD_FAILURE() << i << ": " << st.ToString();
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(store_->CountOpenFlows("guarded", {}).value(), 2 * kPerStore);
  EXPECT_EQ(store_->GuardAccount("").reason(), "storage.invalid_argument");
}

// Registration stores the reference and the device credential together; a
// failure half-way leaves neither (decision 11.11, crash-safety).
TEST_P(StoreConformance, FailedTransactionLeavesNothing) {
  ASSERT_TRUE(store_->CreateAccount(MakeAccount("alice")).ok());
  ASSERT_TRUE(store_->PutDevice(MakeDevice("taken", "alice", "ios")).ok());

  Status s = store_->Transact([&](StoreOps& tx) {
    LG_RETURN_IF_ERROR(tx.PutReference(MakeReference("alice", "android", "tmpl")));
    LG_RETURN_IF_ERROR(tx.PutUserKey(MakeKey("alice")));
    LG_RETURN_IF_ERROR(tx.ConsumeNonce("reg", "n1", clock_.Now() + seconds(60)));
    return tx.PutDevice(MakeDevice("taken", "alice", "android"));  // fails: exists
  });
  EXPECT_EQ(s.reason(), "storage.device_exists");
  EXPECT_EQ(store_->GetReference("alice", "android").status().reason(), "storage.reference_not_found");
  EXPECT_EQ(store_->GetUserKey("alice").status().reason(), "storage.user_key_not_found");
  EXPECT_TRUE(store_->ConsumeNonce("reg", "n1", clock_.Now() + seconds(60)).ok());  // rolled back

  // A body that throws rolls back too, and the store stays usable.
  EXPECT_THROW(store_->Transact([&](StoreOps& tx) -> Status {
    (void)tx.PutReference(MakeReference("alice", "android", "tmpl"));
    throw std::runtime_error("crash in the middle");
  }),
               std::runtime_error);
  EXPECT_EQ(store_->GetReference("alice", "android").status().reason(), "storage.reference_not_found");

  // And the successful version commits both at once.
  ASSERT_TRUE(store_
                  ->Transact([&](StoreOps& tx) {
                    LG_RETURN_IF_ERROR(tx.PutReference(MakeReference("alice", "android", "tmpl")));
                    return tx.PutDevice(MakeDevice("new", "alice", "android"));
                  })
                  .ok());
  EXPECT_TRUE(store_->GetReference("alice", "android").ok());
  EXPECT_TRUE(store_->GetDevice("new").ok());
}

// Master-key rotation needs every user key listed (R-SEC-STO-1/2).
TEST_P(StoreConformance, UserKeyAccountsAreListedInPages) {
  for (const char* id : {"u3", "u1", "u5", "u2", "u4", "nokey"}) {
    ASSERT_TRUE(store_->CreateAccount(MakeAccount(id)).ok());
    if (std::string(id) != "nokey") { ASSERT_TRUE(store_->PutUserKey(MakeKey(id)).ok()); }
  }
  using V = std::vector<std::string>;
  auto p1 = store_->ListUserKeyAccounts("", 2);
  ASSERT_TRUE(p1.ok()) << p1.status().ToString();
  EXPECT_EQ(*p1, (V{"u1", "u2"}));
  EXPECT_EQ(store_->ListUserKeyAccounts("u2", 2).value(), (V{"u3", "u4"}));
  EXPECT_EQ(store_->ListUserKeyAccounts("u4", 2).value(), (V{"u5"}));
  EXPECT_EQ(store_->ListUserKeyAccounts("u5", 2).value(), V{});
  EXPECT_EQ(store_->ListUserKeyAccounts("", 0).status().reason(), "storage.invalid_argument");
  // Inside a transaction too.
  ASSERT_TRUE(store_->Transact([](StoreOps& tx) -> Status {
                      LG_ASSIGN_OR_RETURN(auto all, tx.ListUserKeyAccounts("", 100));
                      return all.size() == 5 ? Status::Ok() : Status::Internal("test", "count");
                    })
                  .ok());
}

TEST_P(StoreConformance, RewrapUserKeyIsCompareAndSet) {
  ASSERT_TRUE(store_->CreateAccount(MakeAccount("alice")).ok());
  ASSERT_TRUE(store_->PutUserKey(MakeKey("alice")).ok());
  EXPECT_EQ(store_->RewrapUserKey("alice", B("stale"), B("new")).reason(),
            "storage.user_key_conflict");
  EXPECT_EQ(store_->GetUserKey("alice")->wrapped_data_key, B("wrapped-alice"));
  ASSERT_TRUE(store_->RewrapUserKey("alice", B("wrapped-alice"), B("new")).ok());
  auto k = store_->GetUserKey("alice");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->wrapped_data_key, B("new"));
  EXPECT_EQ(k->sealed_transform_key, B("tk-alice"));  // only the wrapped key changes
  EXPECT_EQ(store_->RewrapUserKey("bob", B("x"), B("y")).reason(), "storage.user_key_not_found");
}

// Rotation without downtime (R-SEC-STO-1/2, decision 11.5): after
// `keys rotate` every user key is under the new KEK, templates still open,
// and a server holding ONLY the new KEK works; re-running changes nothing.
TEST_P(StoreConformance, MasterKeyRotationRewrapsEveryUserKey) {
  const crypto::Bytes old_kek(32, 0x11), new_kek(32, 0x22);
  const auto old_only = crypto::KeyManager::FromKeys(old_kek).value();
  const auto rotating = crypto::KeyManager::FromKeys(new_kek, old_kek).value();
  const auto new_only = crypto::KeyManager::FromKeys(new_kek).value();

  std::mt19937 rng(7);
  std::normal_distribution<float> n(0.f, 0.1f);
  std::map<std::string, Template> enrolled;
  TemplateProtector before(&old_only);
  for (int i = 0; i < 7; ++i) {  // 7 users over pages of 3: paging is exercised
    const std::string id = "user" + std::to_string(i);
    Template t;
    for (auto& v : t) v = n(rng);
    ASSERT_TRUE(store_->CreateAccount(MakeAccount(id)).ok());
    ASSERT_TRUE(store_->Transact([&](StoreOps& tx) {
                        return before.Enroll(tx, id, "android", t, "capture");
                      })
                    .ok());
    enrolled[id] = t;
  }
  // Before rotation a new-KEK-only server cannot open them (the check below can fail).
  TemplateProtector after(&new_only);
  EXPECT_EQ(after.PrepareComparison(*store_, "user0", "android", enrolled["user0"]).status().reason(),
            "keys.unknown_kek");

  auto holder = UserKeyHolder(*store_, UserKeyHolderOptions{.page_size = 3});
  const crypto::RotationReport r = crypto::RewrapAll(rotating, {holder.get()});
  EXPECT_TRUE(r.failures.empty()) << r.failures.front();
  EXPECT_EQ(r.examined, 7u);
  EXPECT_EQ(r.rewrapped, 7u);
  EXPECT_EQ(r.already_current, 0u);

  std::map<std::string, Bytes> wrapped_after;
  for (const auto& [id, t] : enrolled) {
    auto k = store_->GetUserKey(id);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    EXPECT_FALSE(rotating.NeedsRewrap(k->wrapped_data_key)) << id;
    EXPECT_EQ(k->transform_version, 1) << id;
    wrapped_after[id] = k->wrapped_data_key;
    auto cmp = after.PrepareComparison(*store_, id, "android", t);
    ASSERT_TRUE(cmp.ok()) << id << ": " << cmp.status().ToString();
    double d = 0;
    for (std::size_t i = 0; i < kTemplateDims; ++i)
      d += (double(cmp->reference[i]) - cmp->probe[i]) * (double(cmp->reference[i]) - cmp->probe[i]);
    EXPECT_LT(std::sqrt(d), 1e-4) << id;  // same template, same transform
    // The old KEK alone no longer opens anything.
    EXPECT_EQ(TemplateProtector(&old_only).PrepareComparison(*store_, id, "android", t)
                  .status().reason(),
              "keys.unknown_kek");
  }

  // Idempotent: a second run finds everything current and writes nothing.
  const crypto::RotationReport again = crypto::RewrapAll(rotating, {holder.get()});
  EXPECT_TRUE(again.failures.empty());
  EXPECT_EQ(again.examined, 7u);
  EXPECT_EQ(again.rewrapped, 0u);
  EXPECT_EQ(again.already_current, 7u);
  for (const auto& [id, w] : wrapped_after) EXPECT_EQ(store_->GetUserKey(id)->wrapped_data_key, w);
}

TEST_P(StoreConformance, RotationReportsKeysUnderAnUnknownKekAndGoesOn) {
  const crypto::Bytes a(32, 0x31), b(32, 0x32), c(32, 0x33);
  const auto under_a = crypto::KeyManager::FromKeys(a).value();
  const auto under_c = crypto::KeyManager::FromKeys(c).value();
  for (const auto& [id, km] : {std::pair{"lost", &under_c}, std::pair{"ok", &under_a}}) {
    ASSERT_TRUE(store_->CreateAccount(MakeAccount(id)).ok());
    UserKey k = MakeKey(id);
    k.wrapped_data_key =
        km->WrapKey(crypto::KeyManager::NewDataKey(), TemplateProtector::DataKeyPurpose(id)).value();
    ASSERT_TRUE(store_->PutUserKey(k).ok());
  }
  const auto rotating = crypto::KeyManager::FromKeys(b, a).value();
  auto holder = UserKeyHolder(*store_);
  const crypto::RotationReport r = crypto::RewrapAll(rotating, {holder.get()});
  EXPECT_EQ(r.examined, 2u);
  EXPECT_EQ(r.rewrapped, 1u);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].find("livegate/user-data-key/lost"), std::string::npos) << r.failures[0];
  EXPECT_NE(r.failures[0].find("keys.unknown_kek"), std::string::npos) << r.failures[0];
  EXPECT_FALSE(rotating.NeedsRewrap(store_->GetUserKey("ok")->wrapped_data_key));
}

INSTANTIATE_TEST_SUITE_P(Storage, StoreConformance,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testing::BackendName);

// --- SQLite-specific: damaged files give storage.corrupt, never a crash ---

TEST(SqliteStore, GarbageFileIsReportedCorrupt) {
  const auto dir = livegate::testing::MakeTempDir("lg_storage_corrupt");
  const auto path = (dir / "garbage.db").string();
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 8192; ++i) f.put(static_cast<char>((i * 131) & 0xff));
  }
  SqliteOptions o;
  o.path = path;
  auto s = OpenSqliteStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.status().reason(), "storage.corrupt");
  std::filesystem::remove_all(dir);
}

TEST(SqliteStore, DamagedPagesAreReportedCorrupt) {
  const auto dir = livegate::testing::MakeTempDir("lg_storage_corrupt");
  const auto path = (dir / "ref.db").string();
  {
    SqliteOptions o;
    o.path = path;
    auto s = OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE((*s)->Transact([](StoreOps& tx) {
                      for (int i = 0; i < 300; ++i) {
                        const std::string id = "user" + std::to_string(i);
                        LG_RETURN_IF_ERROR(tx.CreateAccount(MakeAccount(id)));
                        LG_RETURN_IF_ERROR(
                            tx.PutReference(MakeReference(id, "android", std::string(500, 'x'))));
                      }
                      return Status::Ok();
                    }).ok());
  }  // closed: WAL checkpointed into the main file
  const auto size = std::filesystem::file_size(path);
  ASSERT_GT(size, 40000u);
  {
    // Overwrite everything after the first page (schema stays readable).
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096);
    for (std::uintmax_t i = 4096; i < size; ++i) f.put(static_cast<char>(0xA5));
  }
  SqliteOptions o;
  o.path = path;
  o.check_integrity_on_open = true;
  auto s = OpenSqliteStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().reason(), "storage.corrupt") << s.status().ToString();

  // Without the open-time check, the first read of a damaged page reports it.
  o.check_integrity_on_open = false;
  auto lazy = OpenSqliteStore(o);
  if (lazy.ok()) {
    auto r = (*lazy)->GetReference("user150", "android");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().reason(), "storage.corrupt") << r.status().ToString();
  } else {
    EXPECT_EQ(lazy.status().reason(), "storage.corrupt") << lazy.status().ToString();
  }
  std::filesystem::remove_all(dir);
}

TEST(SqliteStore, UnopenablePathIsUnavailable) {
  SqliteOptions o;
  o.path = "/nonexistent-folder-lg/ref.db";
  auto s = OpenSqliteStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().reason(), "storage.unavailable");
}

}  // namespace
}  // namespace livegate::storage
