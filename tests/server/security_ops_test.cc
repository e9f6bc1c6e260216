// Attack regressions of issue 12 (findings 3, 4, 6, 8) against the real
// livegate-server process (label `security`):
//   - /metrics: label injection with made-up HTTP methods and paths leaves
//     a bounded exposition that `promtool check metrics` accepts; /metrics
//     needs the admin token, or lives on its own listener;
//   - audit flooding: wrong admin tokens, 429s and malformed requests for a
//     few seconds add a bounded, exact number of audit entries carrying the
//     counts; the log still verifies;
//   - files: every file the server creates is 0600, every directory 0700,
//     even under umask 022; server.log names audit entries, never repeats them;
//   - frames: a BMP frame in a capture is refused before decoding;
//   - master key: the environment variable is gone from /proc/<pid>/environ;
//     a key file (0600) and a file descriptor work; a group-readable key
//     file refuses start-up;
//   - a cut audit log (tail, entries after the last checkpoint, shorter
//     valid prefix, emptied) is reported by `livegate-admin audit verify
//     --database` on SQLite and PostgreSQL; the untouched log verifies.
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server_process.h"

namespace livegate::server::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> Lines(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

int FreePort() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

struct Proc {
  int exit_code = -1;
  std::string out;
};

// Runs a command line (argv) and captures stdout+stderr.
Proc RunCommand(const std::vector<std::string>& argv, const fs::path& dir) {
  static int n = 0;
  const fs::path out = dir / ("cmd" + std::to_string(++n) + ".out");
  std::string cmd;
  for (const auto& a : argv) cmd += "'" + a + "' ";
  cmd += ">'" + out.string() + "' 2>&1";
  const int st = std::system(cmd.c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ReadWholeFile(out)};
}

class SecurityOpsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = livegate::testing::MakeTempDir("lg_security_ops"); }
  void TearDown() override {
    server_.Stop();
    if (HasFailure()) {
      std::fprintf(stderr, "kept %s for inspection\n", dir_.c_str());
      return;
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // A raw request with any method and path (what an attacker can send).
  int RawRequest(const std::string& method, const std::string& path) {
    httplib::SSLClient cli("127.0.0.1", server_.port());
    cli.enable_server_certificate_verification(false);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(5, 0);
    httplib::Request req;
    req.method = method;
    req.path = path;
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    return cli.send(req, res, err) ? res.status : -1;
  }
  Proc AuditVerify(const fs::path& log, const std::string& db_uri) {
    std::vector<std::string> argv = {LIVEGATE_ADMIN_BIN, "audit", "verify", "--log", log.string(),
                                     "--public-key", server_.public_key().string()};
    if (!db_uri.empty()) argv.insert(argv.end(), {"--database", db_uri});
    return RunCommand(argv, dir_);
  }

  fs::path dir_;
  ServerProcess server_;
};

// ------------------------------------------------------------- metrics

TEST_F(SecurityOpsTest, MetricsSurviveLabelInjectionAndPassPromtool) {
  const std::string promtool = "/usr/bin/promtool";
  const bool have_promtool = fs::exists(promtool);
  const char* ci = std::getenv("CI");
  if (!have_promtool && !(ci && std::string(ci) == "true")) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus; scripts/setup installs it)";
  }
  ASSERT_TRUE(have_promtool) << "CI=true and promtool is missing: install the Debian package prometheus";
  ASSERT_EQ(server_.Start(dir_, {}), "");

  // Traffic, hostile first: made-up methods (one with a quote and a brace,
  // the exposition breakers of finding 3) and paths.
  const std::vector<std::string> hostile = {"FOO\"BAR", "X{a=\"b\"}", "PROPFIND", "get", "M\\N"};
  for (int i = 0; i < 300; ++i) {
    const std::string m = i < 5 ? hostile[i] : "M" + std::to_string(i);
    RawRequest(m, "/v1/\"" + std::to_string(i) + "\"");
  }
  for (int i = 0; i < 20; ++i) RawRequest("GET", "/nothing/" + std::to_string(i) + "?q=\"x\"");
  EXPECT_EQ(server_.http().Get("/healthz").status, 200);
  EXPECT_EQ(server_.http().Post("/v1/flows", "{not json").status, 400);

  // Behind the admin token by default.
  auto anonymous = server_.http().Get("/metrics");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.reason, "auth.failed");
  auto wrong = server_.http().Get("/metrics", "not-the-token");
  EXPECT_EQ(wrong.status, 401);
  auto m = server_.http().Get("/metrics", kAdminToken);
  ASSERT_EQ(m.status, 200) << m.body;

  // Nothing the client sent became a label or a metric name; the
  // exposition stays small.
  EXPECT_EQ(m.body.find("FOO"), std::string::npos);
  EXPECT_EQ(m.body.find("PROPFIND"), std::string::npos);
  EXPECT_EQ(m.body.find("M299"), std::string::npos);
  EXPECT_EQ(m.body.find("/nothing"), std::string::npos);
  EXPECT_LT(m.body.size(), 64u * 1024) << "the exposition grew with the hostile traffic";
  EXPECT_NE(m.body.find("# HELP livegate_http_requests_total "), std::string::npos);
  EXPECT_NE(m.body.find("livegate_http_requests_total{method=\"GET\",code=\"200\"}"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("livegate_refusals_total{reason=\"codec.bad_json\"} 1"), std::string::npos) << m.body;
  // Finding 3: a gauge named _total was there; now a counter with a unit.
  EXPECT_EQ(m.body.find("livegate_time_seconds_total"), std::string::npos);
  EXPECT_NE(m.body.find("# TYPE livegate_processing_seconds_total counter"), std::string::npos);
  // Every metric has HELP and TYPE.
  std::istringstream in(m.body);
  std::string line;
  std::set<std::string> helped, typed;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) helped.insert(line.substr(7, line.find(' ', 7) - 7));
    if (line.rfind("# TYPE ", 0) == 0) typed.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  EXPECT_EQ(helped, typed);
  EXPECT_GE(typed.size(), 4u);

  std::ofstream(dir_ / "metrics.txt") << m.body;
  const Proc check = RunCommand({"sh", "-c", promtool + " check metrics < '" + (dir_ / "metrics.txt").string() + "'"}, dir_);
  EXPECT_EQ(check.exit_code, 0) << check.out;
  EXPECT_EQ(check.out.find("problem"), std::string::npos) << check.out;
}

TEST_F(SecurityOpsTest, MetricsOnTheirOwnListener) {
  const int metrics_port = FreePort();
  ServerProcess::Setup s;
  s.extra = {{"metrics", {{"require_admin_token", false},
                          {"listen", {{"address", "127.0.0.1"}, {"port", metrics_port}}}}}};
  ASSERT_EQ(server_.Start(dir_, s), "");
  // Not on the API listener, even with the token.
  auto api = server_.http().Get("/metrics", kAdminToken);
  EXPECT_EQ(api.status, 404);
  TestHttp mh(metrics_port, server_.cert_pem(), dir_);
  auto m = mh.Get("/metrics");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_NE(m.body.find("# TYPE livegate_uptime_seconds gauge"), std::string::npos) << m.body;
  // The metrics listener serves nothing else.
  EXPECT_EQ(mh.Get("/healthz").status, 404);
}

// ------------------------------------------------------------- audit flooding

// R-SEC-SRV-4: refusals stay audited (aggregated per window) without a flood filling the log.
TEST_F(SecurityOpsTest, RefusalFloodIsAggregatedInTheAuditLog) {
  ASSERT_EQ(server_.Start(dir_, {}), "");
  const std::size_t before = Lines(server_.audit_log()).size();
  // Four keep-alive clients, two guessing admin tokens, two sending
  // malformed flow starts: 600 refused requests in a few seconds.
  std::map<int, int> admin_codes, flow_codes;
  std::mutex mu;
  auto flood = [&](bool admin) {
    httplib::SSLClient cli("127.0.0.1", server_.port());
    cli.enable_server_certificate_verification(false);
    cli.set_keep_alive(true);
    httplib::Headers h;
    if (admin) h.emplace("Authorization", "Bearer guess");
    for (int i = 0; i < 150; ++i) {
      auto res = admin ? cli.Post("/v1/admin/accounts", h, "{}", "application/json")
                       : cli.Post("/v1/flows", "{not json", "application/json");
      std::lock_guard<std::mutex> lock(mu);
      ++(admin ? admin_codes : flow_codes)[res ? res->status : -1];
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) clients.emplace_back(flood, t % 2 == 0);
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_LT(seconds, 50.0) << "the flood must fit in one 60 s aggregation window";
  const int admin_401 = admin_codes[401], admin_429 = admin_codes[429];
  const int flow_400 = flow_codes[400], flow_429 = flow_codes[429];
  // The admin API is rate-limited: 10 wrong tokens a minute, then 429;
  // the flow API: 120 requests a minute, then 429 (the buckets refill at
  // that rate during the flood).
  EXPECT_GE(admin_401, 10);
  EXPECT_LE(admin_401, 10 + static_cast<int>(seconds * 10 / 60) + 1) << seconds << " s";
  EXPECT_GE(flow_400, 120);
  EXPECT_LE(flow_400, 120 + static_cast<int>(seconds * 120 / 60) + 1) << seconds << " s";
  EXPECT_EQ(admin_401 + admin_429, 300) << "answers other than 401 and 429";
  EXPECT_EQ(flow_400 + flow_429, 300) << "answers other than 400 and 429";
  ASSERT_EQ(server_.Stop(), 0);

  // Per (address, reason): the first refusal on its own, then one summary
  // with the window's count; plus the shutdown checkpoint.
  const auto lines = Lines(server_.audit_log());
  ASSERT_EQ(lines.size() - before, 7u) << ReadWholeFile(server_.audit_log());
  std::map<std::string, int> singles;
  std::map<std::string, std::string> counts;
  int checkpoints = 0;
  for (std::size_t i = before; i < lines.size(); ++i) {
    const auto j = json::parse(lines[i]);
    if (j["type"] == "checkpoint") {
      ++checkpoints;
      continue;
    }
    const auto reasons = j["reasons"];
    ASSERT_FALSE(reasons.empty());
    EXPECT_EQ(j["result"], "refused");
    if (j["action"] == "audit.refusals_aggregated") {
      EXPECT_EQ(reasons[1].get<std::string>().rfind("count:", 0), 0u) << lines[i];
      EXPECT_NE(lines[i].find("remote:127.0.0.1"), std::string::npos) << lines[i];
      counts[reasons[0]] = reasons[1];
    } else {
      ++singles[reasons[0]];
    }
  }
  EXPECT_EQ(checkpoints, 1);
  EXPECT_EQ(singles, (std::map<std::string, int>{{"auth.failed", 1}, {"codec.bad_json", 1}, {"rate.limited", 1}}));
  EXPECT_EQ(counts["auth.failed"], "count:" + std::to_string(admin_401));
  EXPECT_EQ(counts["codec.bad_json"], "count:" + std::to_string(flow_400));
  EXPECT_EQ(counts["rate.limited"], "count:" + std::to_string(admin_429 + flow_429));

  const Proc v = AuditVerify(server_.audit_log(), "sqlite:" + (server_.var() / "livegate.db").string());
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("audit log intact"), std::string::npos) << v.out;
}

// ------------------------------------------------------------- files

TEST_F(SecurityOpsTest, EveryCreatedFileIsOwnerOnlyAndTheLogNamesAuditEntries) {
  const mode_t old = ::umask(022);  // a permissive parent: the server must not inherit it
  const std::string error = server_.Start(dir_, {});
  ::umask(old);
  ASSERT_EQ(error, "");
  const std::string account = "files-" + crypto::HexEncode(crypto::RandomBytes(4));
  ASSERT_EQ(CreateAccount(server_.http(), account, "pw of the files test").status, 201);
  TestClock clock;
  for (int i = 0; i < 2; ++i) {  // two flows up to the procedure (DB writes, WAL)
    FlowClient f(server_.http(), clock);
    ASSERT_EQ(f.Start(protocol::FlowType::kRegistration, account, "dev-" + std::to_string(i)).status, 200);
    ASSERT_EQ(f.Verify(account, "pw of the files test").status, 200);
    ASSERT_TRUE(f.Risk(CleanRisk()));
  }
  EXPECT_EQ(server_.http().Get("/metrics", kAdminToken).status, 200);

  // While running (the -wal and -shm exist now) and after the stop.
  for (int pass = 0; pass < 2; ++pass) {
    int files = 0;
    std::set<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(server_.var())) {
      struct stat st {};
      ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
      const unsigned mode = st.st_mode & 0777;
      names.insert(e.path().filename().string());
      if (S_ISDIR(st.st_mode)) {
        EXPECT_EQ(mode, 0700u) << e.path();
      } else {
        ++files;
        EXPECT_EQ(mode, 0600u) << e.path();
      }
    }
    for (const char* n : {"livegate.db", "server.log", "audit.log", "tls", "tls_cert.pem", "tls_key.wrapped",
                          "audit_signing.wrapped", "audit_signing.pub.pem"}) {
      EXPECT_TRUE(names.count(n)) << n << " not created (pass " << pass << ")";
    }
    if (pass == 0) {
      EXPECT_TRUE(names.count("livegate.db-wal") && names.count("livegate.db-shm"));
      ASSERT_EQ(server_.Stop(), 0);
    }
    EXPECT_GE(files, 6);
  }

  // server.log: audit entries by sequence number only, never their payload.
  int recorded = 0;
  for (const auto& l : Lines(server_.var() / "server.log")) {
    const auto j = json::parse(l);
    EXPECT_NE(j["event"], "audit") << l;
    if (j["event"] == "audit.recorded") {
      ++recorded;
      EXPECT_EQ(j.size(), 4u) << l;  // ts, level, event, audit_seq
      EXPECT_TRUE(j.contains("audit_seq")) << l;
    }
  }
  // Account create + 2 x (start, verify, risk) + metrics read are audited.
  EXPECT_GE(recorded, 7);
  EXPECT_NE(ReadWholeFile(server_.audit_log()).find(account), std::string::npos);
}

// ------------------------------------------------------------- frames

TEST_F(SecurityOpsTest, BmpFrameRefusedBeforeDecoding) {
  ASSERT_EQ(server_.Start(dir_, {}), "");
  const std::string account = "frames-" + crypto::HexEncode(crypto::RandomBytes(4));
  ASSERT_EQ(CreateAccount(server_.http(), account, "pw").status, 201);
  TestClock clock;
  FlowClient f(server_.http(), clock);
  ASSERT_EQ(f.Start(protocol::FlowType::kRegistration, account, "dev-frames").status, 200);
  ASSERT_EQ(f.Verify(account, "pw").status, 200);
  auto proc = f.Risk(CleanRisk());
  ASSERT_TRUE(proc);
  cv::Mat img(64, 64, CV_8UC3, cv::Scalar(90, 120, 200));
  std::vector<std::uint8_t> bmp;
  ASSERT_TRUE(cv::imencode(".bmp", img, bmp));
  protocol::CaptureSubmission sub;
  sub.challenge_id = proc->challenge["id"];
  sub.session_nonce = proc->session_nonce;
  sub.frames.push_back({0, bmp});
  sub.client.live = true;
  sub.client.quality = 0.8;
  sub.client.best_frame = 0;
  sub.device_credential = MakeDeviceCredential("dev-frames", "device secret");
  auto r = f.PostSealed("capture", protocol::ToJson(sub));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.reason, "image.format_not_allowed") << r.body;
  EXPECT_NE(r.body.find("not a JPEG"), std::string::npos) << r.body;
}

// ------------------------------------------------------------- master key

TEST_F(SecurityOpsTest, MasterKeyFromEnvironmentIsScrubbed) {
  ASSERT_EQ(server_.Start(dir_, {}), "");
  EXPECT_EQ(server_.http().Get("/healthz").status, 200);
  const std::string environ_text = ReadWholeFile("/proc/" + std::to_string(server_.pid()) + "/environ");
  ASSERT_FALSE(environ_text.empty());
  EXPECT_NE(environ_text.find("PATH="), std::string::npos);  // we read the right thing
  EXPECT_EQ(environ_text.find(server_.master_key()), std::string::npos) << "the master key is still in environ";
  // The server really used the key: a restart with it opens the wrapped TLS key.
  EXPECT_EQ(CreateAccount(server_.http(), "env-" + crypto::HexEncode(crypto::RandomBytes(4)), "pw").status, 201);
}

TEST_F(SecurityOpsTest, MasterKeyFromFileAndFromDescriptor) {
  ServerProcess::Setup file;
  file.key_source = MasterKeySource::kFileArg;
  ASSERT_EQ(server_.Start(dir_ / "file", file), "");
  EXPECT_EQ(server_.http().Get("/healthz").status, 200);
  EXPECT_EQ(CreateAccount(server_.http(), "file-" + crypto::HexEncode(crypto::RandomBytes(4)), "pw").status, 201);
  server_.Stop();

  ServerProcess fd_server;
  ServerProcess::Setup fd;
  fd.key_source = MasterKeySource::kFd;
  ASSERT_EQ(fd_server.Start(dir_ / "fd", fd), "");
  EXPECT_EQ(fd_server.http().Get("/healthz").status, 200);
  EXPECT_EQ(fd_server.Stop(), 0);
}

TEST_F(SecurityOpsTest, GroupReadableKeyFileRefusesStart) {
  fs::create_directories(dir_ / "conf");
  const fs::path kf = dir_ / "conf" / "loose.key";
  std::ofstream(kf) << crypto::HexEncode(crypto::RandomBytes(32)) << "\n";
  fs::permissions(kf, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  ServerProcess::Setup s;
  s.key_source = MasterKeySource::kNone;
  s.args = {"--master-key-file", kf.string()};
  const std::string error = server_.Start(dir_, s);
  EXPECT_NE(error.find("exited 3"), std::string::npos) << error;
  EXPECT_NE(error.find("keys.kek_file_permissions"), std::string::npos) << error;
  EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
}

// ------------------------------------------------------------- cut audit log

class AuditTruncationTest : public SecurityOpsTest, public ::testing::WithParamInterface<Backend> {};

// R-SEC-SRV-4: the log's integrity holds against truncation too (the head is recorded in the database).
TEST_P(AuditTruncationTest, CutLogIsDetectedAgainstTheDatabase) {
  std::string db;
  if (GetParam() == Backend::kPostgres) {
    const char* pg = std::getenv("LIVEGATE_PG_URI");
    if (pg == nullptr) {
      if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true") FAIL() << "LIVEGATE_PG_URI not set";
      GTEST_SKIP() << "LIVEGATE_PG_URI not set (scripts/run-tests sets it with scripts/pg-test-cluster)";
    }
    db = pg;
  } else {
    db = "sqlite:" + (dir_ / "var" / "livegate.db").string();
  }
  ServerProcess::Setup s;
  s.db_uri = db;
  ASSERT_EQ(server_.Start(dir_, s), "");
  const std::string account = "cut-" + crypto::HexEncode(crypto::RandomBytes(4));
  ASSERT_EQ(CreateAccount(server_.http(), account, "pw").status, 201);
  // 1 + 105 entries: a signed checkpoint after the 100th event (seq 100),
  // then 6 events after it; SIGKILL keeps them unsigned (no shutdown
  // checkpoint).
  for (int i = 0; i < 105; ++i) ASSERT_EQ(server_.http().Get("/v1/admin/accounts/" + account, kAdminToken).status, 200);
  server_.Stop(SIGKILL);
  const auto lines = Lines(server_.audit_log());
  ASSERT_EQ(lines.size(), 107u);
  ASSERT_EQ(json::parse(lines[100])["type"], "checkpoint");

  auto write = [&](const std::string& name, std::size_t keep, const std::string& extra = "") {
    const fs::path p = dir_ / name;
    std::ofstream out(p);
    for (std::size_t i = 0; i < keep; ++i) out << lines[i] << "\n";
    out << extra;
    return p;
  };
  const Proc intact = AuditVerify(server_.audit_log(), db);
  EXPECT_EQ(intact.exit_code, 0) << intact.out;
  EXPECT_NE(intact.out.find("reaches what the database recorded: checkpoint seq 100, last entry seq 106"),
            std::string::npos) << intact.out;

  struct Case {
    std::string name;
    std::size_t keep;
    std::string expect;
  };
  const std::vector<Case> cases = {
      // Tail cut: the last three entries gone.
      {"tail_cut.log", 104, "the log ends at seq 103, but the database recorded entry seq 106"},
      // Every entry after the last checkpoint removed.
      {"after_checkpoint.log", 101, "the log ends at seq 100, but the database recorded entry seq 106"},
      // Replaced by a shorter valid prefix (before the checkpoint).
      {"prefix.log", 50, "the log ends at seq 49, but the database recorded a signed checkpoint at seq 100"},
  };
  for (const auto& c : cases) {
    // Each cut copy is checked where the server wrote its log.
    fs::copy_file(write(c.name, c.keep), server_.audit_log(), fs::copy_options::overwrite_existing);
    const Proc v = AuditVerify(server_.audit_log(), db);
    EXPECT_EQ(v.exit_code, 1) << c.name << ": " << v.out;
    EXPECT_NE(v.out.find("audit log TRUNCATED: " + c.expect), std::string::npos) << c.name << ": " << v.out;
    // Without the database the chain alone cannot tell.
    EXPECT_EQ(AuditVerify(server_.audit_log(), "").exit_code, 0) << c.name;
  }
  // Emptied: known by its path.
  fs::copy_file(write("empty.log", 0), server_.audit_log(), fs::copy_options::overwrite_existing);
  const Proc empty = AuditVerify(server_.audit_log(), db);
  EXPECT_EQ(empty.exit_code, 1) << empty.out;
  EXPECT_NE(empty.out.find("audit log TRUNCATED: the log is empty, but the database recorded a signed checkpoint at seq 100"),
            std::string::npos) << empty.out;

  // A server does not continue a cut log (it would bury the cut).
  fs::copy_file(write("restart.log", 101), server_.audit_log(), fs::copy_options::overwrite_existing);
  ServerProcess again;
  s.master_key = server_.master_key();
  const std::string error = again.Start(dir_, s);
  EXPECT_NE(error.find("audit.truncated"), std::string::npos) << error;
  EXPECT_NE(error.find("the log ends at seq 100, but the database recorded entry seq 106"), std::string::npos)
      << error;
  // The untouched log: the server starts and continues it.
  fs::copy_file(write("full.log", lines.size()), server_.audit_log(), fs::copy_options::overwrite_existing);
  ServerProcess resumed;
  ASSERT_EQ(resumed.Start(dir_, s), "");
  EXPECT_EQ(resumed.Stop(), 0);
  const Proc after = AuditVerify(server_.audit_log(), db);
  EXPECT_EQ(after.exit_code, 0) << after.out;
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditTruncationTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return info.param == Backend::kSqlite ? "sqlite" : "postgresql"; });

}  // namespace
}  // namespace livegate::server::testing

// ------------------------------------------------------------- audit disk full

namespace livegate::server::testing {
namespace {

// R-SEC-SRV-4 with nothing lost (rule 5): the audit log on a full disk. The
// log lives on a small tmpfs of its own (root: mount), filled up while the
// server runs, then freed.
class AuditDiskFullTest : public SecurityOpsTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    SecurityOpsTest::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs for the audit log (CI runs as root)";
    fs_ = dir_ / "auditfs";
    fs::create_directories(fs_);
    ASSERT_EQ(::mount("lg-audit", fs_.c_str(), "tmpfs", 0, "size=128k,mode=0700"), 0) << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    server_.Stop();
    if (mounted_) ::umount2(fs_.c_str(), MNT_DETACH);
    SecurityOpsTest::TearDown();
  }
  int CountLogEvents(const std::string& event) {
    int n = 0;
    for (const auto& l : Lines(server_.var() / "server.log")) n += l.find("\"event\":\"" + event + "\"") != std::string::npos;
    return n;
  }
  fs::path fs_;
  bool mounted_ = false;
};

TEST_P(AuditDiskFullTest, RefusesOrContinuesAsConfiguredLosesNothingAndResumes) {
  const bool refuse = GetParam() == "refuse";
  const fs::path log = fs_ / "audit.log";
  ServerProcess::Setup s;
  s.extra = {{"log", {{"audit_file", log.string()}, {"audit_failure", GetParam()}}}};
  ASSERT_EQ(server_.Start(dir_, s), "");
  const std::string account = "full-" + crypto::HexEncode(crypto::RandomBytes(4));
  ASSERT_EQ(CreateAccount(server_.http(), account, "pw").status, 201);
  auto healthy = server_.http().Get("/healthz");
  ASSERT_EQ(healthy.status, 200);
  EXPECT_EQ(json::parse(healthy.body)["audit"], "ok");

  ASSERT_TRUE(livegate::testing::FillFileSystem(fs_ / "filler"));
  // The log's last page may still hold a few lines: read the account until
  // an append fails (each read is audited).
  int answered = 0, refused = 0;
  for (int i = 0; i < 60 && refused == 0; ++i) {
    const auto r = server_.http().Get("/v1/admin/accounts/" + account, kAdminToken);
    if (r.status == 200) ++answered;
    if (r.status == 503) {
      EXPECT_EQ(r.reason, "audit.unavailable");
      ++refused;
    }
    if (!refuse && CountLogEvents("audit.write_failed") >= 3) break;
  }
  const int failed = CountLogEvents("audit.write_failed");
  ASSERT_GE(failed, 1) << "no audit append failed on the full tmpfs";
  // Each lost event is in the server log whole: operation, account, outcome.
  bool whole = false;
  for (const auto& l : Lines(server_.var() / "server.log")) {
    if (l.find("\"audit.write_failed\"") == std::string::npos) continue;
    const auto j = json::parse(l);
    whole = j["audit_event"]["operation"] == "admin.account.get" && j["audit_event"]["account_id"] == account &&
            j["audit_event"]["outcome"] == "ok";
  }
  EXPECT_TRUE(whole) << "the lost event is not in the server log whole";

  auto metrics = server_.http().Get("/metrics", kAdminToken);
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("livegate_audit_failing 1"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("livegate_audit_write_failures_total " + std::to_string(failed)), std::string::npos)
      << metrics.body;
  if (refuse) {
    // Only the request whose append failed was answered (its decision was
    // made); from then on: 503, and the balancer's health check fails.
    EXPECT_EQ(refused, 1);
    EXPECT_EQ(failed, 1);
    auto h = server_.http().Get("/healthz");
    EXPECT_EQ(h.status, 503);
    EXPECT_EQ(h.reason, "health.audit");
    auto start = server_.http().Post("/v1/flows", R"({"flow":"authentication","account_id":")" + account + "\"}");
    EXPECT_EQ(start.status, 503);
    EXPECT_EQ(start.reason, "audit.unavailable");
    EXPECT_EQ(start.retry_after, "1");
    EXPECT_EQ(CreateAccount(server_.http(), account + "-b", "pw").status, 503);
  } else {
    EXPECT_EQ(refused, 0);
    auto h = server_.http().Get("/healthz");
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(json::parse(h.body)["audit"], "failing");
    EXPECT_EQ(CreateAccount(server_.http(), account + "-b", "pw").status, 201);
  }
  const int lost = CountLogEvents("audit.write_failed");

  // Space again: within the probe interval (1 s) the server writes
  // audit.resumed counting the lost events and serves again.
  fs::remove(fs_ / "filler");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto back = server_.http().Get("/healthz");
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(json::parse(back.body)["audit"], "ok");
  EXPECT_EQ(server_.http().Get("/v1/admin/accounts/" + account, kAdminToken).status, 200);
  EXPECT_EQ(CountLogEvents("audit.resumed"), 1);
  ASSERT_EQ(server_.Stop(), 0);

  // The chain is intact (and reaches the database's record), and it says
  // how many events are missing from it.
  const Proc v = AuditVerify(log, "sqlite:" + (server_.var() / "livegate.db").string());
  EXPECT_EQ(v.exit_code, 0) << v.out;
  int resumed = 0;
  for (const auto& l : Lines(log)) {
    if (l.find("audit.resumed") == std::string::npos) continue;
    ++resumed;
    EXPECT_NE(l.find("lost:" + std::to_string(lost)), std::string::npos) << l;
  }
  EXPECT_EQ(resumed, 1);
}

INSTANTIATE_TEST_SUITE_P(Modes, AuditDiskFullTest, ::testing::Values("refuse", "continue"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace livegate::server::testing
