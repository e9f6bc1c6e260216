// Crash test: the server process is killed (SIGKILL) at named points inside
// and around the final transaction of registration and deregistration, and
// at random moments while a capture is being judged; after each kill the
// database holds either the whole result or none of it (R-FLOW-REG-10,
// R-FLOW-DER-10, decision 11.11).
//
// The server runs in a child process: this test binary re-executes itself
// with LG_CRASH_CHILD set, and a static initializer turns it into a server
// before gtest starts (no fork of a multi-threaded process).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "server_harness.h"

namespace livegate::server::testing {
namespace {

using protocol::FlowType;
constexpr const char* kVideo = "2_face_video/sadtalker/sadtalker_WDA_AlexandriaOcasioCortez_000.mp4";

// ---- child: a server until killed -------------------------------------------
[[noreturn]] void RunChild() {
  const std::string db = std::getenv("LG_CRASH_DB");
  const std::string fault = std::getenv("LG_CRASH_FAULT") ? std::getenv("LG_CRASH_FAULT") : "";
  auto keys = crypto::KeyManager::FromKeys(*crypto::HexDecode(std::getenv("LG_CRASH_KEY")));
  storage::SqliteOptions so;
  so.path = db;
  auto store = storage::OpenSqliteStore(so);
  if (!keys.ok() || !store.ok()) _exit(3);
  LogAuditTrail audit;
  Metrics metrics;
  AnalyzerPool pool(1, vision::AnalyzerOptions{});
  ServiceDeps deps;
  deps.store = store->get();
  deps.keys = &*keys;
  deps.analyzers = &pool;
  deps.audit = &audit;
  deps.metrics = &metrics;
  Policy policy = *LoadPolicy(livegate::testing::SourceDir() / "config/policy.default.json");
  policy.weights.new_device = 0;
  deps.policy = policy;
  deps.judgement_policy = AllowScriptedJudgementPolicy();
  deps.limits.max_frames = 40;
  deps.limits.max_frame_bytes = 160 * 1024;
  deps.limits.max_body_bytes = 8 << 20;
  deps.srp.allowed_groups = {"modp/srp/2048"};
  deps.srp.default_group = "modp/srp/2048";
  deps.challenge_source = ScriptedChallengeOfDecidedType;
  deps.fault_hook = [fault](const char* point) {
    if (!fault.empty() && fault == point) raise(SIGKILL);
  };
  auto service = Service::Create(deps);
  crypto::TlsOptions to;
  to.key_dir = std::getenv("LG_CRASH_TLS_DIR");
  auto tls = crypto::LoadOrCreateTlsMaterial(to, *keys);
  if (!service.ok() || !tls.ok()) _exit(4);
  HttpServerOptions ho;
  ho.cert_pem = tls->cert_pem;
  ho.key_pem = tls->key_pem;
  ho.max_body_bytes = 8 << 20;
  ho.thread_pool_size = 2;
  auto http = HttpServer::Create(ho, &metrics);
  if (!http.ok()) _exit(5);
  (*service)->RegisterRoutes(**http);
  if (!(*http)->Start().ok()) _exit(6);
  {
    const std::string tmp = std::string(std::getenv("LG_CRASH_PORT_FILE")) + ".tmp";
    std::ofstream(tmp) << (*http)->port() << "\n" << tls->cert_pem;
    std::rename(tmp.c_str(), std::getenv("LG_CRASH_PORT_FILE"));
  }
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

struct ChildLauncher {
  ChildLauncher() {
    if (std::getenv("LG_CRASH_CHILD") != nullptr) RunChild();
  }
} g_child_launcher;

// ---- parent ---------------------------------------------------------------
class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LG_REQUIRE_MODELS();
    LG_REQUIRE_TEST_DATA(kVideo);
    dir_ = livegate::testing::MakeTempDir("lg_server_crash");
    key_hex_ = crypto::HexEncode(crypto::RandomBytes(32));
    db_ = (dir_ / "crash.db").string();
    frames_ = FramesFromVideo(livegate::testing::TestDataDir() / kVideo, 0, 80, 2);
    auto keys = crypto::KeyManager::FromKeys(*crypto::HexDecode(key_hex_));
    keys_.emplace(std::move(keys).value());
    storage::SqliteOptions so;
    so.path = db_;
    auto store = storage::OpenSqliteStore(so);  // creates the schema
    ASSERT_TRUE(store.ok());
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // Starts a server child with the given fault point; returns its pid.
  pid_t Spawn(const std::string& fault) {
    const std::string port_file = (dir_ / ("port_" + std::to_string(++spawned_))).string();
    pid_t pid = fork();
    if (pid == 0) {
      setenv("LG_CRASH_CHILD", "1", 1);
      setenv("LG_CRASH_DB", db_.c_str(), 1);
      setenv("LG_CRASH_KEY", key_hex_.c_str(), 1);
      setenv("LG_CRASH_FAULT", fault.c_str(), 1);
      setenv("LG_CRASH_TLS_DIR", (dir_ / "tls").c_str(), 1);
      setenv("LG_CRASH_PORT_FILE", port_file.c_str(), 1);
      execl("/proc/self/exe", "crash-child", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 600 && !std::filesystem::exists(port_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::ifstream in(port_file);
    in >> port_;
    std::string line, pem;
    std::getline(in, line);
    while (std::getline(in, line)) pem += line + "\n";
    cert_ = pem;
    return pid;
  }

  void CreateAccountDirect(const std::string& account, const std::string& password) {
    storage::SqliteOptions so;
    so.path = db_;
    auto store = storage::OpenSqliteStore(so);
    auto g = crypto::SrpGroup::Create({"modp/srp/2048", "SHA-256"});
    auto v = crypto::MakeSrpVerifier(*g, account, password);
    storage::Account a;
    a.account_id = account;
    a.srp_group = "modp/srp/2048";
    a.srp_salt = v->salt;
    a.srp_verifier = v->verifier;
    a.created = storage::SystemClock()();
    ASSERT_TRUE((*store)->CreateAccount(a).ok());
  }

  AccountSnapshot SnapshotDirect(const std::string& account) {
    storage::SqliteOptions so;
    so.path = db_;
    auto store = storage::OpenSqliteStore(so);
    EXPECT_TRUE(store.ok());
    return Snapshot(**store, account);
  }

  // Runs one flow against the child; `kill_after_ms` >= 0 kills the child
  // that long after the capture was sent. Returns the outcome ("" if none).
  std::string RunFlow(pid_t pid, FlowType type, const std::string& account, const std::string& identity,
                      const std::string& secret, int kill_after_ms) {
    TestHttp http(port_, cert_, dir_);
    TestClock clock;
    FlowClient c(http, clock);
    if (c.Start(type, account, "dev-" + account).status != 200) return "start-failed";
    if (c.Verify(identity, secret).status != 200) return "verify-failed";
    auto p = c.Risk(CleanRisk());
    if (!p) return "risk-failed";
    protocol::CaptureSubmission sub;
    sub.challenge_id = p->challenge["id"];
    sub.session_nonce = p->session_nonce;
    sub.frames = frames_;
    sub.client.live = true;
    if (type == FlowType::kRegistration) sub.device_credential = MakeDeviceCredential("dev-" + account, "dev-secret");
    std::thread killer;
    if (kill_after_ms >= 0) {
      killer = std::thread([pid, kill_after_ms] {
        std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
        kill(pid, SIGKILL);
      });
    }
    auto fr = c.Capture(sub);
    if (killer.joinable()) killer.join();
    return fr ? fr->outcome : "";
  }

  void Reap(pid_t pid) {
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
  }

  std::filesystem::path dir_;
  std::string key_hex_, db_, cert_;
  int port_ = 0, spawned_ = 0;
  std::optional<crypto::KeyManager> keys_;
  std::vector<protocol::CaptureFrameMessage> frames_;
};

const char* kRegistrationPoints[] = {"capture.after_flow_update", "capture.after_device",
                                     "capture.after_enroll", "capture.before_commit",
                                     "capture.after_commit"};
const char* kDeregistrationPoints[] = {"capture.after_flow_update", "capture.after_shred",
                                       "capture.before_commit", "capture.after_commit"};

TEST_F(CrashTest, RegistrationIsAllOrNothing) {
  const AccountSnapshot none{0, 0, false}, all{1, 1, true};
  int trial = 0, whole = 0, nothing = 0;
  std::mt19937 rng(12345);
  // Named points inside/around the transaction, then random kill times.
  std::vector<std::pair<std::string, int>> plans;
  for (const char* p : kRegistrationPoints) plans.push_back({p, -1});
  for (int i = 0; i < 6; ++i) plans.push_back({"", static_cast<int>(rng() % 2500)});
  for (const auto& [point, delay] : plans) {
    const std::string account = "r" + std::to_string(trial++);
    CreateAccountDirect(account, "pw");
    pid_t pid = Spawn(point);
    const std::string outcome = RunFlow(pid, FlowType::kRegistration, account, account, "pw", delay);
    Reap(pid);
    const AccountSnapshot s = SnapshotDirect(account);
    EXPECT_TRUE(s == none || s == all) << "point=" << point << " delay=" << delay << " state=" << s;
    if (outcome == "registered") { EXPECT_EQ(s, all); }  // reported done -> durable
    if (point == "capture.after_commit") { EXPECT_EQ(s, all) << "committed before the kill"; }
    if (point == "capture.before_commit" || point == "capture.after_enroll") { EXPECT_EQ(s, none); }
    whole += s == all;
    nothing += s == none;
  }
  std::cout << "registration crash trials: " << trial << ", whole result " << whole
            << ", nothing " << nothing << "\n";
}

TEST_F(CrashTest, DeregistrationIsAllOrNothing) {
  const AccountSnapshot none{0, 0, false}, all{1, 1, true};
  int trial = 0, whole = 0, nothing = 0;
  std::mt19937 rng(777);
  std::vector<std::pair<std::string, int>> plans;
  for (const char* p : kDeregistrationPoints) plans.push_back({p, -1});
  for (int i = 0; i < 4; ++i) plans.push_back({"", static_cast<int>(rng() % 2500)});
  for (const auto& [point, delay] : plans) {
    const std::string account = "d" + std::to_string(trial++);
    CreateAccountDirect(account, "pw");
    pid_t setup = Spawn("");
    ASSERT_EQ(RunFlow(setup, FlowType::kRegistration, account, account, "pw", -1), "registered");
    Reap(setup);
    ASSERT_EQ(SnapshotDirect(account), all);
    pid_t pid = Spawn(point);
    const std::string outcome = RunFlow(pid, FlowType::kDeregistration, account, account, "pw", delay);
    Reap(pid);
    const AccountSnapshot s = SnapshotDirect(account);
    EXPECT_TRUE(s == none || s == all) << "point=" << point << " delay=" << delay << " state=" << s;
    if (outcome == "deregistered") { EXPECT_EQ(s, none); }
    if (point == "capture.after_commit") { EXPECT_EQ(s, none); }
    if (point == "capture.before_commit" || point == "capture.after_shred") { EXPECT_EQ(s, all); }
    whole += s == none;
    nothing += s == all;
  }
  std::cout << "deregistration crash trials: " << trial << ", whole result " << whole
            << ", nothing " << nothing << "\n";
}

}  // namespace
}  // namespace livegate::server::testing
