// One real `livegate-server` process for the security_* tests (attack
// regressions against the real program, R-SEC-COM-1): the test gives the
// parts of the configuration that differ (database, limits, any section,
// where the master key comes from); this writes the configuration and the
// key, starts the program, waits until it listens, and stops it.
//
// Layout under the test's folder DIR:
//   DIR/server.out            what the program printed (stdout + stderr)
//   DIR/conf/server.json      written by the test (master.key too)
//   DIR/var/...               everything the server creates: tls/, the
//                             SQLite database, server.log, audit.log
// (conf and var apart so that a test can check the modes of what the
// server created without the test's own files in the way).
//
// Needs LIVEGATE_SERVER_BIN defined to the program's path (CMakeLists.txt).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "server_harness.h"

extern char** environ;

namespace livegate::server::testing {

inline std::string ReadWholeFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Where the server reads its master key from.
enum class MasterKeySource {
  kEnv,         // LIVEGATE_MASTER_KEY in its environment (config master_key.env)
  kConfigFile,  // conf/master.key (0600), named by the config's master_key.file
  kFileArg,     // conf/master.key (0600), named by --master-key-file
  kFd,          // a pipe on descriptor 3, named by --master-key-fd 3
  kNone,        // none given by the harness (the test passes its own args)
};

class ServerProcess {
 public:
  struct Setup {
    std::string db_uri;                               // empty: sqlite:DIR/var/livegate.db
    nlohmann::json extra = nlohmann::json::object();  // merged (RFC 7386) into the base configuration
    MasterKeySource key_source = MasterKeySource::kEnv;
    std::vector<std::string> args;                    // extra command-line arguments
    std::string master_key;                           // empty: a fresh random key
    std::string admin_token = kAdminToken;            // its SHA-256 goes into the configuration
  };

  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { Stop(); }

  // Returns "" once the server listens (its port read from its output, the
  // configuration asks for port 0) and its certificate exists; else why not:
  // "exited N: <output>" or "did not come up: <output>".
  std::string Start(const std::filesystem::path& dir) { return Start(dir, Setup{}); }
  std::string Start(const std::filesystem::path& dir, const Setup& setup) {
    dir_ = dir;
    std::filesystem::create_directories(conf());
    std::filesystem::create_directories(var());
    master_key_ = setup.master_key.empty() ? crypto::HexEncode(crypto::RandomBytes(32)) : setup.master_key;
    nlohmann::json config{
        {"listen", {{"address", "127.0.0.1"}, {"port", 0}}},
        {"tls", {{"generate", true}, {"generated_dir", (var() / "tls").string()}}},
        {"database", {{"uri", setup.db_uri.empty() ? "sqlite:" + (var() / "livegate.db").string() : setup.db_uri}}},
        {"master_key", {{"env", "LIVEGATE_MASTER_KEY"}}},
        {"policy_file", (livegate::testing::SourceDir() / "config/policy.default.json").string()},
        // As the in-process TestServer: the fastest allowed group keeps the tests quick.
        {"srp", {{"allowed_groups", {"modp/srp/2048", "modp/srp/3072"}}, {"default_group", "modp/srp/2048"}}},
        {"admin", {{"token_sha256", crypto::HexEncode(crypto::Sha256(crypto::AsBytes(setup.admin_token)))}}},
        {"log", {{"level", "info"}, {"file", (var() / "server.log").string()}, {"audit_file", audit_log().string()}}}};

    std::vector<std::string> args = {LIVEGATE_SERVER_BIN, "--config", (conf() / "server.json").string()};
    // The test's own environment, minus any master key in it.
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      if (std::string(*e).rfind("LIVEGATE_MASTER_KEY", 0) != 0) envs.emplace_back(*e);
    }
    int key_pipe[2] = {-1, -1};
    switch (setup.key_source) {
      case MasterKeySource::kEnv:
        envs.push_back("LIVEGATE_MASTER_KEY=" + master_key_);
        break;
      case MasterKeySource::kConfigFile:
        WriteKeyFile();
        config["master_key"] = {{"file", key_file().string()}};
        break;
      case MasterKeySource::kFileArg:
        WriteKeyFile();
        args.insert(args.end(), {"--master-key-file", key_file().string()});
        break;
      case MasterKeySource::kFd: {
        if (::pipe(key_pipe) != 0) return "pipe failed";
        const std::string text = master_key_ + "\n";
        const bool written = ::write(key_pipe[1], text.data(), text.size()) == static_cast<ssize_t>(text.size());
        ::close(key_pipe[1]);
        if (!written) {
          ::close(key_pipe[0]);
          return "write to the key pipe failed";
        }
        args.insert(args.end(), {"--master-key-fd", "3"});
        break;
      }
      case MasterKeySource::kNone:
        break;
    }
    config.merge_patch(setup.extra);
    std::ofstream(conf() / "server.json") << config.dump(2);
    args.insert(args.end(), setup.args.begin(), setup.args.end());

    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, output_file().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (key_pipe[0] >= 0) posix_spawn_file_actions_adddup2(&fa, key_pipe[0], 3);
    const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (key_pipe[0] >= 0) ::close(key_pipe[0]);
    if (rc != 0) {
      pid_ = -1;
      return "cannot start " LIVEGATE_SERVER_BIN;
    }

    // The server prints "listening on https://127.0.0.1:PORT" once it serves.
    const std::regex listening(R"(listening on https://127\.0\.0\.1:([0-9]+))");
    for (int i = 0; i < 300; ++i) {
      const std::string out = output();
      std::smatch m;
      if (std::regex_search(out, m, listening)) {
        port_ = std::stoi(m[1]);
        cert_pem_ = ReadWholeFile(cert());
        if (!cert_pem_.empty()) {
          http_ = std::make_unique<TestHttp>(port_, cert_pem_, dir_);
          return "";
        }
      }
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        exit_code_ = ExitCode(st);
        return "exited " + std::to_string(exit_code_) + ": " + out;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "did not come up: " + output();
  }

  // SIGTERM (clean shutdown: refusal summaries, final checkpoint) or
  // SIGKILL; waits for the process. Returns its exit code (128 + signal
  // when a signal ended it; -1 when it never ran).
  int Stop(int sig = SIGTERM) {
    http_.reset();
    if (pid_ > 0) {
      kill(pid_, sig);
      int st = 0;
      waitpid(pid_, &st, 0);
      exit_code_ = ExitCode(st);
      pid_ = -1;
    }
    return exit_code_;
  }

  std::filesystem::path dir() const { return dir_; }
  std::filesystem::path conf() const { return dir_ / "conf"; }
  std::filesystem::path var() const { return dir_ / "var"; }
  std::filesystem::path output_file() const { return dir_ / "server.out"; }
  std::string output() const { return ReadWholeFile(output_file()); }
  std::filesystem::path cert() const { return var() / "tls" / "tls_cert.pem"; }
  std::filesystem::path audit_log() const { return var() / "audit.log"; }
  std::filesystem::path public_key() const { return var() / "tls" / "audit_signing.pub.pem"; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::string& master_key() const { return master_key_; }
  const std::string& cert_pem() const { return cert_pem_; }
  // A client pinned to the server's certificate (valid while it runs).
  TestHttp& http() { return *http_; }

 private:
  static int ExitCode(int wait_status) {
    return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  }
  std::filesystem::path key_file() const { return conf() / "master.key"; }
  void WriteKeyFile() const {
    std::ofstream(key_file()) << master_key_ << "\n";
    std::filesystem::permissions(key_file(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
  }

  std::filesystem::path dir_;
  std::string master_key_, cert_pem_;
  int port_ = 0;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::unique_ptr<TestHttp> http_;
};

// Base of the security_* fixtures run on both databases: a folder of the
// test's own (kept when it fails), the database (a SQLite file or a
// PostgreSQL schema of its own, dropped after the server stopped), and the
// server and HTTPS client the test starts.
class ServerProcessTest : public ::testing::TestWithParam<storage::testing::Backend> {
 protected:
  explicit ServerProcessTest(std::string name) : name_(std::move(name)) {}
  void SetUp() override {
    LG_REQUIRE_BACKEND(GetParam());
    dir_ = livegate::testing::MakeTempDir("lg_" + name_);
    db_.emplace(GetParam());
    db_uri_ = db_->ServerUri();
  }
  void TearDown() override {
    http_.reset();
    server_.reset();
    db_.reset();
    std::error_code ec;
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_, ec);
    if (HasFailure()) std::fprintf(stderr, "%s: kept %s\n", name_.c_str(), dir_.c_str());
  }

  std::filesystem::path dir_;
  std::optional<storage::testing::TestDatabase> db_;
  std::string db_uri_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<TestHttp> http_;

 private:
  std::string name_;
};

}  // namespace livegate::server::testing
