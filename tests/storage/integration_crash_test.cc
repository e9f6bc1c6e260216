// Crash safety (decision 11.11; issue 5 "the database holds either the whole
// result or none of it"): a child process registers and deregisters users in
// transactions - reference + device credential + user key + nonce together,
// then all of them deleted together - and is SIGKILLed at random moments.
// After each kill the database, reopened, must hold each user either
// completely registered or not at all. Both backends.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "storage/store_test_env.h"

namespace livegate::storage {
namespace {

using testing::Backend;
using testing::TestDatabase;

Bytes Blob(std::size_t n, std::uint8_t v) { return Bytes(n, v); }

// The child's endless work. Never returns.
[[noreturn]] void ChildLoop(const TestDatabase& db, int trial) {
  auto opened = db.Open();
  if (!opened.ok()) _exit(3);
  auto& store = *opened;
  for (long i = 0;; ++i) {
    const std::string id = "t" + std::to_string(trial) + "u" + std::to_string(i % 7);
    Status s = store->Transact([&](StoreOps& tx) {
      auto existing = tx.GetUserKey(id);
      if (existing.ok()) return tx.DeleteUserBiometrics(id);  // deregistration
      if (!tx.GetAccount(id).ok()) {
        Account a;
        a.account_id = id;
        a.srp_verifier = Blob(256, 1);
        a.srp_salt = Blob(16, 2);
        a.srp_group = "modp/srp/3072";
        LG_RETURN_IF_ERROR(tx.CreateAccount(a));
      }
      UserKey k;
      k.account_id = id;
      k.wrapped_data_key = Blob(73, 3);
      k.sealed_transform_key = Blob(60, 4);
      LG_RETURN_IF_ERROR(tx.PutUserKey(k));
      for (const char* type : {"android", "ios"}) {
        Reference r;
        r.account_id = id;
        r.device_type = type;
        r.protected_template = Blob(540, 5);
        r.transform_version = 1;
        r.source = "capture";
        LG_RETURN_IF_ERROR(tx.PutReference(r));
        Device d;
        d.device_id = id + "-" + type;
        d.account_id = id;
        d.device_type = type;
        d.srp_verifier = Blob(256, 6);
        d.srp_salt = Blob(16, 7);
        d.srp_group = "modp/srp/3072";
        LG_RETURN_IF_ERROR(tx.PutDevice(d));
      }
      return tx.ConsumeNonce("reg", id + "#" + std::to_string(i), Timestamp::max());
    });
    if (!s.ok()) _exit(4);
  }
}

class CrashSafety : public ::testing::TestWithParam<Backend> {};

TEST_P(CrashSafety, KilledMidTransactionLeavesAllOrNothing) {
  LG_REQUIRE_BACKEND(GetParam());
  TestDatabase db(GetParam());
  { ASSERT_TRUE(db.Open().ok()); }  // schema created before the children start
  std::mt19937 rng(GetParam() == Backend::kSqlite ? 11 : 12);
  std::uniform_int_distribution<int> delay_ms(30, 250);
  constexpr int kTrials = 12;
  int committed_users_seen = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ChildLoop(db, trial);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself with " << WEXITSTATUS(status)
                                     << " (3: open failed, 4: transaction failed)";

    auto reopened = db.Open();
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    auto& store = *reopened;
    for (int u = 0; u < 7; ++u) {
      const std::string id = "t" + std::to_string(trial) + "u" + std::to_string(u);
      if (!store->GetAccount(id).ok()) continue;
      const bool has_key = store->GetUserKey(id).ok();
      const auto refs = store->ListReferences(id).value();
      const auto devs = store->ListDevices(id).value();
      if (has_key) {
        ++committed_users_seen;
        EXPECT_EQ(refs.size(), 2u) << id;
        EXPECT_EQ(devs.size(), 2u) << id;
      } else {
        EXPECT_TRUE(refs.empty()) << id << ": reference without data key";
        EXPECT_TRUE(devs.empty()) << id << ": device without data key";
      }
    }
  }
  // The children did get work done between kills.
  EXPECT_GT(committed_users_seen, 0);
}

INSTANTIATE_TEST_SUITE_P(Storage, CrashSafety,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         testing::BackendName);

}  // namespace
}  // namespace livegate::storage
