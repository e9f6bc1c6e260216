// The reliability campaign's bounded runs (issue 12, docs/RELIABILITY.md),
// against real processes: each test runs one of scripts/reliability/* (which
// start a real livegate-server, a private PostgreSQL where needed, and the
// livegate-load generator) with small trial counts, and checks the verdict
// and the figures it printed. The long runs are the scripts themselves.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "support/test_data.h"

namespace {

using ScriptRun = livegate::testing::ShellRun;

// Runs scripts/reliability/<name> with the build's binaries; stdout+stderr.
ScriptRun RunScript(const std::string& args) {
  const std::string cmd = "LIVEGATE_BUILD_DIR='" LIVEGATE_BUILD_DIR "' LIVEGATE_TEST_DATA='" +
                          livegate::testing::TestDataDir().string() + "' LIVEGATE_MODELS='" +
                          livegate::testing::ModelDir().string() + "' '" +
                          (livegate::testing::SourceDir() / "scripts/reliability").string() + "/" + args + " 2>&1";
  return livegate::testing::RunShell(cmd);
}

bool HaveClip() {
  return std::filesystem::exists(livegate::testing::TestDataDir() / "2_face_video/liveportrait/liveportrait_d10.mp4");
}

#define REQUIRE_DATA()                                                                               \
  do {                                                                                               \
    if (!HaveClip()) {                                                                               \
      if (livegate::testing::RunningInCi()) FAIL() << "shared test data missing (CI=true)";          \
      GTEST_SKIP() << "shared test data missing: set LIVEGATE_TEST_DATA";                            \
    }                                                                                                \
  } while (0)

// The number after `label` in the script's output, or -1.
long Figure(const std::string& out, const std::string& pattern) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex(pattern))) return std::stol(m[1]);
  return -1;
}

// SIGKILL of the server at random moments of the three flows under load
// (10 trials; scripts/reliability/faults kill9 runs 100+ per database):
// no torn record after any kill, the audit log verifies, every interrupted
// request's retry completed or got a 4xx refusal, never a 500.
TEST(ReliabilityTest, KillNineDuringFlowsLeavesNoTornRecordAndNoServerError) {
  REQUIRE_DATA();
  const auto r = RunScript("faults' kill9 --db sqlite --trials 10 --clients 3");
  SCOPED_TRACE(r.out);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("FAULTS kill9 sqlite: PASS (10 kills, torn records 0"), std::string::npos);
  EXPECT_EQ(Figure(r.out, R"(server errors \(5xx\): [0-9]+, of which not 503: ([0-9]+))"), 0);
  EXPECT_EQ(r.out.find("-> server_error"), std::string::npos);
  EXPECT_EQ(r.out.find("TORN"), std::string::npos);
  EXPECT_NE(r.out.find("audit verify: "), std::string::npos);
}

// PostgreSQL stopped for 5 s in the middle of flows and started again: 503
// with a reason while it is down, the same server process serves flows
// afterwards.
TEST(ReliabilityTest, PostgresRestartGives503ThenRecoversWithoutServerRestart) {
  REQUIRE_DATA();
  if (!std::filesystem::exists("/usr/lib/postgresql/15/bin/pg_ctl")) {
    if (livegate::testing::RunningInCi()) FAIL() << "PostgreSQL 15 missing (CI=true)";
    GTEST_SKIP() << "PostgreSQL 15 binaries missing";
  }
  const auto r = RunScript("faults' pg-restart --clients 3 --down 5 --quick");
  SCOPED_TRACE(r.out);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("FAULTS pg-restart: PASS"), std::string::npos);
  EXPECT_NE(r.out.find("healthz:503"), std::string::npos);
  EXPECT_TRUE(std::regex_search(r.out, std::regex("start:503:storage\\.unavailable")));
  EXPECT_EQ(Figure(r.out, R"(server errors \(5xx\): [0-9]+, of which not 503: ([0-9]+))"), 0);
}

// A progressive-JPEG CPU bomb and a 20000x20000 PNG as capture frames:
// refused with their reason, at most 1 s of server CPU per capture (the bomb
// unbounded costs ~0.5 s per frame, 20 frames here), without the server's
// memory growing; the wall-time bound is generous (shared CI machines).
TEST(ReliabilityTest, JpegBombAndHugePngCapturesRefusedQuicklyAndBoundedInMemory) {
  REQUIRE_DATA();
  const auto r = RunScript("hostile-images' --flows 2 --max-s 10 --max-cpu-ms 1000 --bound-mib 64 --no-baseline");
  SCOPED_TRACE(r.out);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("HOSTILE jpeg-bomb: PASS (refused image.too_many_scans"), std::string::npos);
  EXPECT_NE(r.out.find("HOSTILE huge-png: PASS (refused image.format_not_allowed"), std::string::npos);
  // The bomb really is one: thousands of scans within the byte limit.
  EXPECT_GT(Figure(r.out, R"(jpeg-bomb.jpg: 480x480 progressive, ([0-9]+) scans)"), 1000);
}

}  // namespace
