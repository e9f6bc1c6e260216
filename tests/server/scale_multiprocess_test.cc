// The multi-process deployment of docs/DEPLOY.md against real processes
// (issue 16, label `scale`): deploy/run-local starts two livegate-server
// processes on one private PostgreSQL behind HAProxy (TCP mode, TLS passing
// through, the client's address in a PROXY v2 header), and livegate-load
// runs complete flows with real captures through it.
//
// - the steps of one flow are answered by different processes (each
//   process has its own audit log: a flow id is found in both), and the
//   audit records the client's address, never the balancer's;
// - the PROXY protocol attacked on a real server process: a header from an
//   untrusted address, a trusted connection without a header, a header
//   split over packets, an oversized one, a slowloris inside the header;
// - one server process killed with SIGKILL in the middle of the run:
//   HAProxy marks it down and routes around it, interrupted requests
//   complete or are refused cleanly on retry (never a 500), and no
//   registration the client saw succeed is lost.
// - one server's audit log on a full disk: it refuses (503) and fails its
//   health check, HAProxy takes it out, the other serves; with room again
//   it writes audit.resumed and is taken back.
//
// Skips with a message when haproxy, PostgreSQL or the shared data are
// missing; fails instead under CI=true (scripts/setup installs them).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pqxx/pqxx>

#include "support/test_data.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using livegate::testing::RunningInCi;

livegate::testing::ShellRun RunCommand(const std::string& cmd) { return livegate::testing::RunShell(cmd); }

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string EnvPrefix() {
  return "LIVEGATE_BUILD_DIR='" LIVEGATE_BUILD_DIR "' LIVEGATE_TEST_DATA='" +
         livegate::testing::TestDataDir().string() + "' LIVEGATE_MODELS='" +
         livegate::testing::ModelDir().string() + "' ";
}

// What is missing to run the set, or "".
std::string Missing() {
  if (RunCommand("command -v haproxy >/dev/null 2>&1").exit_code != 0) {
    return "haproxy is not installed (scripts/setup installs it: apt-get install haproxy)";
  }
  if (!fs::exists("/usr/lib/postgresql/15/bin/initdb")) return "PostgreSQL 15 is not installed";
  if (!fs::exists(livegate::testing::TestDataDir() / "2_face_video/liveportrait/liveportrait_d10.mp4")) {
    return "shared test data missing: set LIVEGATE_TEST_DATA";
  }
  return "";
}

#define REQUIRE_SET()                                                                  \
  do {                                                                                 \
    if (const std::string why = Missing(); !why.empty()) {                            \
      if (RunningInCi()) FAIL() << why << " (CI=true)";                               \
      GTEST_SKIP() << why;                                                             \
    }                                                                                  \
  } while (0)

// deploy/run-local start: two servers on PostgreSQL behind HAProxy, with
// scripted challenges (the recorded clip's challenge; the servers warn that
// this is not production). Stopped by the destructor.
class LocalSet {
 public:
  // `before` (optional) runs on the set's folder before anything is made in
  // it (e.g. a mount); a non-empty answer stops the start.
  std::string Start(int servers, const std::function<std::string(const fs::path&)>& before = {}) {
    dir_ = livegate::testing::MakeTempDir("lg-scale-set");
    if (before) {
      if (const std::string why = before(dir_); !why.empty()) return why;
    }
    const auto r = RunCommand(EnvPrefix() + "'" + (livegate::testing::SourceDir() / "deploy/run-local").string() +
                       "' start --dir '" + dir_.string() + "' --servers " + std::to_string(servers) +
                       " --scripted 2>&1");
    if (r.exit_code != 0) return "deploy/run-local start failed: " + r.out;
    const std::regex line(R"(export (\w+)='([^']*)')");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), line), end; it != end; ++it) {
      env_[(*it)[1]] = (*it)[2];
    }
    std::istringstream pids(env_["LIVEGATE_SCALE_SERVER_PIDS"]);
    for (int pid; pids >> pid;) pids_.push_back(pid);
    std::istringstream urls(env_["LIVEGATE_SCALE_SERVER_URLS"]);
    for (std::string u; urls >> u;) ports_.push_back(std::stoi(u.substr(u.rfind(':') + 1)));
    if (static_cast<int>(pids_.size()) != servers || static_cast<int>(ports_.size()) != servers) {
      return "unexpected run-local output: " + r.out;
    }
    return "";
  }
  ~LocalSet() {
    if (!dir_.empty()) {
      RunCommand("'" + (livegate::testing::SourceDir() / "deploy/run-local").string() + "' stop --dir '" + dir_.string() +
          "' 2>&1");
      for (const fs::path& m : mounts_) umount2(m.c_str(), MNT_DETACH);
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  std::string Env(const std::string& k) { return env_[k]; }
  const std::vector<int>& pids() const { return pids_; }
  const std::vector<int>& ports() const { return ports_; }
  fs::path audit(int i) const { return dir_ / ("server-" + std::to_string(i + 1)) / "audit.log"; }
  fs::path dir() const { return dir_; }

  // livegate-load through HAProxy; the JSON report (empty on failure).
  std::string LoadCommand(const std::string& args) {
    std::string cmd = EnvPrefix() + "LIVEGATE_ADMIN_TOKEN='" + env_["LIVEGATE_ADMIN_TOKEN"] + "' '" LIVEGATE_BUILD_DIR
                      "/apps/livegate-load/livegate-load' --server '" + env_["LIVEGATE_SCALE_URL"] + "' --ca '" +
                      env_["LIVEGATE_SCALE_CA"] + "' --scripts-dir '" + env_["LIVEGATE_SCALE_SCRIPTS"] + "' --json";
    for (int pid : pids_) cmd += " --server-pid " + std::to_string(pid);
    return cmd + " " + args;
  }

  // HAProxy's view of server sN: "UP", "DOWN", ... (its CSV stats page).
  std::string ServerState(int i) {
    const auto r = RunCommand("curl -s '" + env_["LIVEGATE_SCALE_STATS_URL"] + "'");
    std::istringstream in(r.out);
    for (std::string row; std::getline(in, row);) {
      std::vector<std::string> f;
      std::istringstream cells(row);
      for (std::string c; std::getline(cells, c, ',');) f.push_back(c);
      if (f.size() > 17 && f[0] == "livegate_servers" && f[1] == "s" + std::to_string(i + 1)) return f[17];
    }
    return "?";
  }

 private:
  fs::path dir_;
  std::map<std::string, std::string> env_;
  std::vector<int> pids_, ports_;
  std::vector<fs::path> mounts_;

 public:
  // A mount inside the set's folder, taken down after the set stopped.
  void AddMount(const fs::path& p) { mounts_.push_back(p); }
};

// Flow ids and remote addresses of one audit log (the chained file:
// "flow:<id>" and "remote:<address>" among an entry's reasons).
struct AuditSummary {
  std::set<std::string> flows;
  std::map<std::string, int> remotes;
  std::vector<std::pair<std::int64_t, std::string>> actions;  // time_ms, action + result
};
AuditSummary ReadAudit(const fs::path& p) {
  AuditSummary s;
  std::istringstream in(ReadFile(p));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("reasons")) continue;
    for (const auto& r : j["reasons"]) {
      const std::string t = r.get<std::string>();
      if (t.rfind("flow:", 0) == 0) s.flows.insert(t.substr(5));
      if (t.rfind("remote:", 0) == 0) ++s.remotes[t.substr(7)];
    }
    s.actions.emplace_back(j.value("time_ms", std::int64_t{0}),
                           j.value("action", std::string()) + " " + j.value("result", std::string()));
  }
  return s;
}

// ---- raw connections for the PROXY-protocol attacks ----

// A blocking TCP connection to 127.0.0.1:port from `source` (any 127/8).
int ConnectFrom(const std::string& source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
    close(fd);
    return -1;
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Whether the server closed the connection within `ms` (EOF or reset).
bool ClosedWithin(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return false;
  char c;
  const ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

// TLS over `fd` (the server's certificate as the only anchor), one request,
// the whole response; "" when the handshake fails.
std::string TlsExchange(int fd, const std::string& ca_file, const std::string& request) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  std::string out;
  if (SSL_connect(ssl) == 1) {
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    char buf[4096];
    for (int n; (n = SSL_read(ssl, buf, sizeof(buf))) > 0;) out.append(buf, static_cast<std::size_t>(n));
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return out;
}

std::string Request(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& extra_headers = "") {
  return method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + extra_headers +
         (body.empty() ? "" : "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                                  "\r\n") +
         "\r\n" + body;
}

std::string V2Header(const std::string& client_ip, int client_port) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += "\x21\x11";  // v2 PROXY, TCP over IPv4
  h += std::string("\x00\x0c", 2);
  in_addr a{};
  inet_pton(AF_INET, client_ip.c_str(), &a);
  h.append(reinterpret_cast<const char*>(&a), 4);
  inet_pton(AF_INET, "127.0.0.1", &a);
  h.append(reinterpret_cast<const char*>(&a), 4);
  h.push_back(static_cast<char>(client_port >> 8));
  h.push_back(static_cast<char>(client_port & 0xff));
  h += std::string("\x20\xfb", 2);
  return h;
}

// livegate_http_proxy_refused_total{reason="..."} and
// livegate_http_timeouts_total{phase="proxy_header"} from /metrics (direct,
// with the admin token).
double Metric(LocalSet& set, int port, const std::string& series) {
  const int fd = ConnectFrom("127.0.0.1", port);
  const std::string resp = TlsExchange(fd, set.Env("LIVEGATE_SCALE_CA"),
                                       Request("GET", "/metrics", "",
                                               "Authorization: Bearer " + set.Env("LIVEGATE_ADMIN_TOKEN") + "\r\n"));
  close(fd);
  std::istringstream in(resp);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

nlohmann::json ParseReport(const std::string& out) {
  const auto brace = out.find('{');
  if (brace == std::string::npos) return {};
  return nlohmann::json::parse(out.substr(brace), nullptr, false);
}

std::int64_t Counter(const nlohmann::json& report, const std::string& name) {
  if (!report.contains("counters") || !report["counters"].contains(name)) return 0;
  return report["counters"][name].get<std::int64_t>();
}

// Torn accounts in the shared database (as scripts/reliability/lib.sh).
long TornAccounts(const std::string& uri) {
  pqxx::connection c(uri);
  pqxx::work w(c);
  const auto r = w.exec1(R"(SELECT
      (SELECT count(*) FROM devices d WHERE NOT EXISTS (SELECT 1 FROM biometric_references r
         WHERE r.account_id = d.account_id AND r.device_type = d.device_type))
    + (SELECT count(*) FROM biometric_references r WHERE NOT EXISTS (SELECT 1 FROM devices d
         WHERE d.account_id = r.account_id AND d.device_type = r.device_type))
    + (SELECT count(*) FROM biometric_references r WHERE NOT EXISTS (SELECT 1 FROM user_keys k
         WHERE k.account_id = r.account_id)))");
  return r[0].as<long>();
}

// ---------------------------------------------------------------- tests

TEST(ScaleTest, FlowStepsLandOnDifferentProcessesAndTheAuditHasTheClientAddress) {
  REQUIRE_SET();
  LocalSet set;
  ASSERT_EQ(set.Start(2), "");
  EXPECT_EQ(set.ServerState(0), "UP");
  EXPECT_EQ(set.ServerState(1), "UP");

  const auto r = RunCommand(set.LoadCommand("--clients 2 --duration 60 --max-flows 6 --auths-per-account 1 2>/dev/null"));
  const auto report = ParseReport(r.out);
  ASSERT_TRUE(report.is_object()) << r.out;
  SCOPED_TRACE(report.dump(1));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(report["server_errors"].get<std::int64_t>(), 0);
  EXPECT_GE(Counter(report, "registrations seen ok"), 2);
  EXPECT_EQ(Counter(report, "registrations confirmed by a later flow"), Counter(report, "registrations seen ok"));
  EXPECT_EQ(Counter(report, "registrations unconfirmed (every later flow failed)"), 0);

  // Each process writes its own audit chain; the balancer sent each request
  // of a flow on its own connection, so flows were split between them.
  const AuditSummary a = ReadAudit(set.audit(0)), b = ReadAudit(set.audit(1));
  int split = 0;
  for (const auto& f : a.flows) split += b.flows.count(f);
  EXPECT_GT(split, 0) << "no flow had steps on both processes (" << a.flows.size() << " / " << b.flows.size()
                      << " flows)";
  // The audit names the client (127.0.0.1), never the balancer (127.0.0.2).
  for (const auto* s : {&a, &b}) {
    EXPECT_GT(s->remotes.count("127.0.0.1"), 0u);
    EXPECT_EQ(s->remotes.count("127.0.0.2"), 0u);
  }
}

TEST(ScaleTest, ProxyHeaderIsBelievedOnlyFromTheTrustedBalancerAndBoundedInSizeAndTime) {
  REQUIRE_SET();
  LocalSet set;
  ASSERT_EQ(set.Start(1), "");
  const int port = set.ports()[0];
  const std::string ca = set.Env("LIVEGATE_SCALE_CA");
  const std::string bad_start = Request("POST", "/v1/flows", "{}");

  // 1. A spoofed header from an address that is not a trusted proxy:
  //    refused before TLS, its address never used.
  {
    const int fd = ConnectFrom("127.0.0.1", port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, "PROXY TCP4 203.0.113.66 127.0.0.1 40000 443\r\n"));
    EXPECT_EQ(TlsExchange(fd, ca, bad_start), "");
    close(fd);
    const int fd2 = ConnectFrom("127.0.0.1", port);
    ASSERT_TRUE(SendAll(fd2, V2Header("203.0.113.67", 40000)));
    EXPECT_EQ(TlsExchange(fd2, ca, bad_start), "");
    close(fd2);
  }
  EXPECT_EQ(Metric(set, port, R"(livegate_http_proxy_refused_total{reason="proxy.untrusted_source"})"), 2);

  // 2. The trusted balancer's address without a header: refused (anyone
  //    able to connect from there must not pass as the balancer's clients).
  {
    const int fd = ConnectFrom("127.0.0.2", port);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(TlsExchange(fd, ca, bad_start), "");
    close(fd);
  }
  EXPECT_EQ(Metric(set, port, R"(livegate_http_proxy_refused_total{reason="proxy.missing_header"})"), 1);

  // 3. From the balancer, a v2 header split over three packets, then TLS:
  //    the request is served and audited under the header's address.
  {
    const int fd = ConnectFrom("127.0.0.2", port);
    const std::string h = V2Header("198.51.100.23", 41000);
    for (const auto& piece : {h.substr(0, 5), h.substr(5, 9), h.substr(14)}) {
      ASSERT_TRUE(SendAll(fd, piece));
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
    const std::string resp = TlsExchange(fd, ca, bad_start);
    close(fd);
    EXPECT_EQ(resp.rfind("HTTP/1.1 400", 0), 0u) << resp;
    // and v1, whole
    const int fd1 = ConnectFrom("127.0.0.2", port);
    ASSERT_TRUE(SendAll(fd1, "PROXY TCP4 198.51.100.24 127.0.0.1 41001 443\r\n"));
    const std::string resp1 = TlsExchange(fd1, ca, Request("POST", "/v1/flows", "[]"));
    close(fd1);
    EXPECT_EQ(resp1.rfind("HTTP/1.1 400", 0), 0u) << resp1;
  }

  // 4. Oversized and malformed headers from the balancer: closed at once.
  {
    const int fd = ConnectFrom("127.0.0.2", port);
    ASSERT_TRUE(SendAll(fd, "PROXY TCP4 " + std::string(300, '1')));
    EXPECT_TRUE(ClosedWithin(fd, 3000));
    close(fd);
    const int fd2 = ConnectFrom("127.0.0.2", port);
    std::string big = V2Header("198.51.100.25", 1);
    big[14] = '\x7f';  // declares 32 KiB of payload
    ASSERT_TRUE(SendAll(fd2, big.substr(0, 16)));
    EXPECT_TRUE(ClosedWithin(fd2, 3000));
    close(fd2);
  }
  EXPECT_EQ(Metric(set, port, R"(livegate_http_proxy_refused_total{reason="proxy.too_large"})"), 2);

  // 5. Slowloris inside the header: one byte a second (each under the 5 s
  //    silence limit) is cut by the header deadline (10 s from accept).
  {
    const int fd = ConnectFrom("127.0.0.2", port);
    const auto t0 = Clock::now();
    const std::string slow = "PROXY TCP4 198.51.100.26 127.0.0.1 40000 443\r\n";
    bool closed = false;
    for (std::size_t i = 0; i + 2 < slow.size() && !closed; ++i) {
      if (!SendAll(fd, slow.substr(i, 1))) break;
      closed = ClosedWithin(fd, 1000);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_TRUE(closed);
    EXPECT_GE(secs, 9.0);
    EXPECT_LE(secs, 16.0);
    close(fd);
  }
  EXPECT_EQ(Metric(set, port, R"(livegate_http_timeouts_total{phase="proxy_header"})"), 1);

  // The audit: the addresses of the two headers read from the balancer, and
  // none of the spoofed or refused ones.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const AuditSummary s = ReadAudit(set.audit(0));
  std::string seen;
  for (const auto& [addr, n] : s.remotes) seen += addr + " ";
  EXPECT_EQ(s.remotes.count("198.51.100.23"), 1u) << seen;
  EXPECT_EQ(s.remotes.count("198.51.100.24"), 1u) << seen;
  for (const char* never : {"203.0.113.66", "203.0.113.67", "198.51.100.25", "198.51.100.26", "127.0.0.2"}) {
    EXPECT_EQ(s.remotes.count(never), 0u) << never << " in " << seen;
  }
  // The server is still healthy for everyone else.
  const int fd = ConnectFrom("127.0.0.1", port);
  EXPECT_EQ(TlsExchange(fd, ca, Request("GET", "/healthz", "")).rfind("HTTP/1.1 200", 0), 0u);
  close(fd);
}

TEST(ScaleTest, OneServerKilledMidRunTheBalancerRoutesAroundItAndNoRegistrationIsLost) {
  REQUIRE_SET();
  LocalSet set;
  ASSERT_EQ(set.Start(2), "");
  const fs::path out = set.dir() / "load.json", err = set.dir() / "load.err";
  // Fault mode: a request cut by the kill is re-sent once the front door
  // answers /healthz again (HAProxy, now with one server), as a client would.
  const std::string cmd = set.LoadCommand("--clients 3 --duration 45 --auths-per-account 1 --retry-after-outage 30 >'" +
                                          out.string() + "' 2>'" + err.string() + "'");
  std::thread load([&] { RunCommand(cmd); });
  // Kill server 2 once the generator is under way (captures prepared).
  const auto t0 = Clock::now();
  while (ReadFile(err).find("ready") == std::string::npos && Clock::now() - t0 < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::this_thread::sleep_for(std::chrono::seconds(12));
  const auto killed_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  ASSERT_EQ(kill(set.pids()[1], SIGKILL), 0);
  // HAProxy's checks mark it down within a few seconds.
  std::string state;
  for (int i = 0; i < 100 && (state = set.ServerState(1)).rfind("DOWN", 0) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(state.rfind("DOWN", 0), 0u) << state;
  EXPECT_EQ(set.ServerState(0), "UP");
  load.join();

  const auto report = ParseReport(ReadFile(out));
  ASSERT_TRUE(report.is_object()) << ReadFile(out) << ReadFile(err);
  SCOPED_TRACE(report.dump(1));
  // No answer 5xx other than an outage's 503; no retry answered 5xx or
  // left without recovery.
  EXPECT_EQ(report["internal_errors"].get<std::int64_t>(), 0);
  for (const auto& [what, n] : report["interruptions"].items()) {
    EXPECT_TRUE(what.find("-> completed") != std::string::npos || what.find("-> refused 4") != std::string::npos)
        << what;
  }
  // 0 lost registrations: each one the client saw succeed was confirmed by
  // a later authentication or deregistration on whichever process was left.
  EXPECT_GE(Counter(report, "registrations seen ok"), 3);
  EXPECT_EQ(Counter(report, "registrations unconfirmed (every later flow failed)"), 0);
  EXPECT_EQ(Counter(report, "registrations confirmed by a later flow"), Counter(report, "registrations seen ok"));
  // The surviving process judged captures after the kill.
  int captures_after = 0;
  for (const auto& [at, what] : ReadAudit(set.audit(0)).actions) {
    const bool success = what.find(" registered") != std::string::npos ||
                         what.find(" authenticated") != std::string::npos ||
                         what.find(" deregistered") != std::string::npos;
    if (at > killed_at_ms && what.find(".capture ") != std::string::npos && success) ++captures_after;
  }
  EXPECT_GT(captures_after, 0);
  EXPECT_EQ(TornAccounts(set.Env("LIVEGATE_SCALE_DB_URI")), 0);
  EXPECT_TRUE(report["server_processes"][1].value("gone", false));
}

}  // namespace

// docs/SECURITY.md "An audit log that cannot be written fails closed", in
// the deployment: server 1's folder (its audit log, its log) on a small
// tmpfs that is filled while the set runs. Server 1 answers 503
// audit.unavailable and fails /healthz, HAProxy takes it out and server 2
// answers everything; with room again server 1 writes audit.resumed
// (counting the events it could not append) and HAProxy takes it back.
namespace {
// GET of an unknown account through HAProxy: an audited refusal (404)
// while the audit log works. Returns the status (0: no answer).
int AuditedRequest(LocalSet& set, int front_port, int n) {
  const int fd = ConnectFrom("127.0.0.1", front_port);
  if (fd < 0) return 0;
  const std::string resp =
      TlsExchange(fd, set.Env("LIVEGATE_SCALE_CA"),
                  Request("GET", "/v1/admin/accounts/drain-" + std::to_string(n), "",
                          "Authorization: Bearer " + set.Env("LIVEGATE_ADMIN_TOKEN") + "\r\n"));
  close(fd);
  return resp.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(resp.c_str() + 9) : 0;
}
}  // namespace

TEST(ScaleTest, AServerWhoseAuditLogCannotBeWrittenIsDrainedAndTakenBackWhenItCan) {
  REQUIRE_SET();
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs for one server's folder (CI runs as root)";
  LocalSet set;
  fs::path s1;
  ASSERT_EQ(set.Start(2, [&](const fs::path& dir) -> std::string {
              s1 = dir / "server-1";
              fs::create_directories(s1);
              if (mount("lg-scale-audit", s1.c_str(), "tmpfs", 0, "size=8m,mode=0700") != 0) {
                return std::string("mount tmpfs: ") + std::strerror(errno);
              }
              set.AddMount(s1);
              return "";
            }),
            "");
  const std::string url = set.Env("LIVEGATE_SCALE_URL");
  const int front = std::stoi(url.substr(url.rfind(':') + 1));
  auto wait_state = [&](int i, const std::string& want, int seconds) {
    std::string s;
    const auto t0 = Clock::now();
    while ((s = set.ServerState(i)).rfind(want, 0) != 0 && Clock::now() - t0 < std::chrono::seconds(seconds)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return s;
  };
  ASSERT_EQ(wait_state(0, "UP", 20).rfind("UP", 0), 0u);
  ASSERT_EQ(wait_state(1, "UP", 20).rfind("UP", 0), 0u);
  int n = 0;
  for (int i = 0; i < 6; ++i) ASSERT_EQ(AuditedRequest(set, front, ++n), 404);

  // Fill server 1's disk, then keep asking until HAProxy has taken it out.
  ASSERT_TRUE(livegate::testing::FillFileSystem(s1 / "filler"));
  std::map<int, int> statuses;
  const auto t0 = Clock::now();
  while (set.ServerState(0).rfind("DOWN", 0) != 0 && Clock::now() - t0 < std::chrono::seconds(30)) {
    ++statuses[AuditedRequest(set, front, ++n)];
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(set.ServerState(0).rfind("DOWN", 0), 0u) << "HAProxy did not take out the server that cannot audit";
  std::printf("taken out %.1f s after the disk filled; answers meanwhile:",
              std::chrono::duration<double>(Clock::now() - t0).count());
  for (const auto& [status, count] : statuses) std::printf(" %d x%d", status, count);
  std::printf("\n");
  for (const auto& [status, count] : statuses) {
    EXPECT_TRUE(status == 404 || status == 503) << count << " answers with status " << status;
  }
  // Asked directly, server 1 says why: its health check and its gauge.
  {
    const int fd = ConnectFrom("127.0.0.1", set.ports()[0]);
    ASSERT_GE(fd, 0);
    const std::string health = TlsExchange(fd, set.Env("LIVEGATE_SCALE_CA"), Request("GET", "/healthz", ""));
    close(fd);
    EXPECT_EQ(health.rfind("HTTP/1.1 503", 0), 0u) << health;
    EXPECT_NE(health.find("health.audit"), std::string::npos) << health;
    EXPECT_EQ(Metric(set, set.ports()[0], "livegate_audit_failing"), 1.0);
    EXPECT_GE(Metric(set, set.ports()[0], "livegate_audit_write_failures_total"), 1.0);
  }
  // Everything now lands on server 2.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(AuditedRequest(set, front, ++n), 404);

  // Room again: within HAProxy's rise (2 checks, 1 s apart) after the
  // server's next probe, server 1 is back and serving.
  fs::remove(s1 / "filler");
  const auto freed = Clock::now();
  EXPECT_EQ(wait_state(0, "UP", 20).rfind("UP", 0), 0u) << "server 1 did not come back";
  std::printf("back %.1f s after the disk had room\n", std::chrono::duration<double>(Clock::now() - freed).count());
  const std::string log = ReadFile(set.audit(0));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("audit\\.resumed[^\\n]*lost:([0-9]+)"))) << "no audit.resumed entry";
  EXPECT_GE(std::stoi(m[1]), 1);
  const auto before = std::count(log.begin(), log.end(), '\n');
  for (int i = 0; i < 10; ++i) EXPECT_EQ(AuditedRequest(set, front, ++n), 404);
  const std::string after = ReadFile(set.audit(0));
  EXPECT_GT(std::count(after.begin(), after.end(), '\n'), before) << "server 1 took no request after coming back";
}
