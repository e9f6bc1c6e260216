#include "support/test_data.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace livegate::testing {

namespace {
std::filesystem::path FromEnvOr(const char* var, const char* fallback) {
  const char* v = std::getenv(var);
  return (v && *v) ? std::filesystem::path(v) : std::filesystem::path(fallback);
}
}  // namespace

std::filesystem::path TestDataDir() {
  return FromEnvOr("LIVEGATE_TEST_DATA", LIVEGATE_TEST_DATA_DEFAULT);
}
std::filesystem::path ModelDir() { return FromEnvOr("LIVEGATE_MODELS", LIVEGATE_MODEL_DIR_DEFAULT); }
std::filesystem::path SourceDir() { return LIVEGATE_SOURCE_DIR; }

bool RunningInCi() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::filesystem::path MakeTempDir(const std::string& prefix) {
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    auto p = std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(p, ec)) return p;
  }
  throw std::runtime_error("cannot create a temporary folder");
}

bool FillFileSystem(const std::filesystem::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "wb");
  if (f == nullptr) return false;
  const std::vector<char> block(64 * 1024, 'x');
  while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
  }
  std::fclose(f);
  return true;
}

ShellRun RunShell(const std::string& command) {
  ShellRun r;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return r;
}

}  // namespace livegate::testing
