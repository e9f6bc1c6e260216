// Locating shared test data and model weights from tests.
//
// Rule (DEVELOPERS.md): tests that need ../shared/data find it through
// LIVEGATE_TEST_DATA. When it is missing they SKIP with a message - except
// when CI=true, where missing data is a FAILURE.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace livegate::testing {

// LIVEGATE_TEST_DATA, else the build-time default (../shared/data).
std::filesystem::path TestDataDir();
// LIVEGATE_MODELS, else the build-time default (<source>/models).
std::filesystem::path ModelDir();
// The repository root (for committed golden vectors under tests/).
std::filesystem::path SourceDir();
bool RunningInCi();
// A fresh private temporary folder, removed by the caller or left in /tmp.
std::filesystem::path MakeTempDir(const std::string& prefix);

// A shell command's exit code (128: killed or not run) and what it printed
// on stdout (append 2>&1 to the command for stderr too).
struct ShellRun {
  int exit_code = -1;
  std::string out;
};
ShellRun RunShell(const std::string& command);
// Writes `file` until its file system is full (a disk-full test); false
// when the file cannot be created.
bool FillFileSystem(const std::filesystem::path& file);

}  // namespace livegate::testing

// Use at the top of a test body. `rel` is a path under the test data folder.
#define LG_REQUIRE_TEST_DATA(rel)                                                   \
  do {                                                                              \
    const auto lg_p_ = ::livegate::testing::TestDataDir() / (rel);                  \
    if (!std::filesystem::exists(lg_p_)) {                                          \
      if (::livegate::testing::RunningInCi()) {                                     \
        FAIL() << "test data missing (CI=true makes this a failure): " << lg_p_;    \
      } else {                                                                      \
        GTEST_SKIP() << "test data missing, skipping (set LIVEGATE_TEST_DATA): "    \
                     << lg_p_;                                                      \
      }                                                                             \
    }                                                                               \
  } while (0)

// Same rule for model weights installed by scripts/setup.
#define LG_REQUIRE_MODELS()                                                         \
  do {                                                                              \
    const auto lg_m_ = ::livegate::testing::ModelDir();                             \
    if (!std::filesystem::exists(lg_m_ / "blazeface.json")) {                       \
      if (::livegate::testing::RunningInCi()) {                                     \
        FAIL() << "model weights missing (run scripts/setup): " << lg_m_;           \
      } else {                                                                      \
        GTEST_SKIP() << "model weights missing, skipping (run scripts/setup): "     \
                     << lg_m_;                                                      \
      }                                                                             \
    }                                                                               \
  } while (0)
