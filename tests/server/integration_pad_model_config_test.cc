// The optional passive PAD model in the server config (issue 13;
// docs/ANTISPOOFING.md "Passive model slot"): off unless configured, the
// SHA-256 pin required with a file, and the real livegate-server refusing
// to start (--check runs the same start-up checks) when the file is not the
// pinned one (R-SRV-SM-1: a changed model is never run).
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "server/config.h"
#include "support/test_data.h"

namespace livegate::server {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBase = R"({"tls":{"generate":true},"database":{"uri":"sqlite:x.db"},
  "master_key":{"env":"K"},"policy_file":"p.json")";

TEST(PadModelConfigTest, OffByDefaultAndInTheShippedExample) {
  auto c = ParseServerConfig(std::string(kBase) + "}", "/srv/lg");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->pad_model.enabled());
  auto example = LoadServerConfig(livegate::testing::SourceDir() / "config/server.example.json");
  ASSERT_TRUE(example.ok()) << example.status().ToString();
  EXPECT_FALSE(example->pad_model.enabled());  // no model is shipped (docs/MODELS.md)
}

TEST(PadModelConfigTest, FileNeedsItsPinAndFieldsAreChecked) {
  auto c = ParseServerConfig(std::string(kBase) +
                                 R"(,"pad_model":{"file":"m/pad.onnx","sha256":")" + std::string(64, 'a') +
                                 R"(","input_size":80,"crop_scale":2.7,"live_index":1}})",
                             "/srv/lg");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->pad_model.file, "/srv/lg/m/pad.onnx");  // relative to the config file
  EXPECT_EQ(c->pad_model.input_size, 80);
  EXPECT_DOUBLE_EQ(c->pad_model.crop_scale, 2.7);
  EXPECT_EQ(c->pad_model.live_index, 1);
  auto no_pin = ParseServerConfig(std::string(kBase) + R"(,"pad_model":{"file":"m/pad.onnx"}})", "/srv/lg");
  ASSERT_FALSE(no_pin.ok());
  EXPECT_EQ(no_pin.status().reason(), "config.missing");
  auto typo = ParseServerConfig(std::string(kBase) + R"(,"pad_model":{"path":"m/pad.onnx"}})", "/srv/lg");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().reason(), "config.unknown_key");
}

struct Proc {
  int exit_code = -1;
  std::string out;
};
Proc RunCommand(const std::string& cmdline, const fs::path& out) {
  const int st = std::system((cmdline + " >'" + out.string() + "' 2>&1").c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ss.str()};
}

TEST(PadModelConfigTest, ServerRefusesToStartOnAPinMismatch) {
  const fs::path dir = livegate::testing::MakeTempDir("lg_pad_cfg");
  {
    std::ofstream(dir / "model.onnx") << "these bytes are not the pinned model";
    std::ifstream p(livegate::testing::SourceDir() / "config/policy.default.json");
    std::ofstream(dir / "policy.json") << p.rdbuf();
  }
  auto write_config = [&](const std::string& pin) {
    std::ofstream(dir / "server.json") << R"({"tls":{"generate":true},"database":{"uri":"sqlite:lg.db"},
      "master_key":{"env":"LIVEGATE_MASTER_KEY"},"policy_file":"policy.json",
      "pad_model":{"file":"model.onnx","sha256":")" << pin << R"("}})";
  };
  const std::string bin = LIVEGATE_SERVER_BIN;
  write_config(std::string(64, '0'));
  Proc r = RunCommand("'" + bin + "' --config '" + (dir / "server.json").string() + "' --check", dir / "out1.txt");
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_NE(r.out.find("model.pin_mismatch"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("configuration and policy are valid"), std::string::npos) << r.out;
  // Without the section the same config is valid: the model is optional.
  std::ofstream(dir / "server.json") << R"({"tls":{"generate":true},"database":{"uri":"sqlite:lg.db"},
      "master_key":{"env":"LIVEGATE_MASTER_KEY"},"policy_file":"policy.json"})";
  r = RunCommand("'" + bin + "' --config '" + (dir / "server.json").string() + "' --check", dir / "out2.txt");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("configuration and policy are valid"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace livegate::server
