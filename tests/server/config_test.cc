// Configuration parsing: the shipped example parses; each kind of mistake
// stops start-up with its specific reason and names the field.
#include "server/config.h"

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "judgement/capture_rate.h"

#include "support/test_data.h"

namespace livegate::server {
namespace {

const char* kMinimal = R"({
  "tls": {"generate": true},
  "database": {"uri": "sqlite:data/x.db"},
  "master_key": {"env": "LG_KEY"},
  "policy_file": "policy.json"
})";

TEST(ConfigTest, ShippedExampleParses) {
  auto c = LoadServerConfig(testing::SourceDir() / "config/server.example.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.port, 8443);
  EXPECT_TRUE(c->tls.generate);
  EXPECT_TRUE(c->database.is_sqlite());
  EXPECT_EQ(c->limits.thread_pool_size, 8);
  EXPECT_EQ(c->limits.max_body_bytes, 33554432u);
  // HTTP transport deadlines and caps (issue 12).
  EXPECT_EQ(c->limits.header_timeout_ms, 10000);
  EXPECT_EQ(c->limits.body_timeout_ms, 60000);
  EXPECT_EQ(c->limits.max_header_bytes, 16384u);
  EXPECT_EQ(c->limits.max_connections, 1024);
  EXPECT_EQ(c->limits.max_connections_per_address, 64);
  EXPECT_EQ(c->limits.max_open_flows_per_account, 3);
  // Issue 13: the browser and CLI e2e tests run with these limits as shipped.
  EXPECT_EQ(c->limits.max_frames, 360);
  EXPECT_EQ(c->limits.max_frame_bytes, 65536u);
  EXPECT_EQ(c->srp.default_group, "modp/srp/3072");
  EXPECT_EQ(c->policy_file, testing::SourceDir() / "config/policy.default.json");
  EXPECT_EQ(c->master_key.env, "LIVEGATE_MASTER_KEY");
}

// Issue 13: the shipped limits carry the longest challenge the shipped
// policy draws at the capture rate rule (every camera frame in blink
// windows, ~15 fps elsewhere), and such a package fits max_body_bytes -
// in the example and in the built-in defaults.
TEST(ConfigTest, ShippedLimitsCarryTheLongestChallengeAtTheCaptureRate) {
  auto c = LoadServerConfig(testing::SourceDir() / "config/server.example.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::ifstream in(testing::SourceDir() / "config/policy.default.json");
  const auto policy = nlohmann::json::parse(in);
  int longest = 0;
  for (const char* tier : {"low", "medium", "high"}) {
    longest = std::max(longest, policy["tiers"][tier]["challenge_length"].get<int>());
  }
  ASSERT_EQ(longest, 4);
  const int needed = judgement::MaxFramesForChallenges(judgement::ChallengePolicy{}, longest);
  EXPECT_EQ(needed, 360);
  EXPECT_GE(c->limits.max_frames, needed);
  EXPECT_LE(CaptureBodyBytes(c->limits.max_frames, c->limits.max_frame_bytes), c->limits.max_body_bytes);
  const LimitOptions builtin;
  EXPECT_GE(builtin.max_frames, needed);
  EXPECT_LE(CaptureBodyBytes(builtin.max_frames, builtin.max_frame_bytes), builtin.max_body_bytes);
  // A 2-action challenge with a blink (medium tier): fewer.
  EXPECT_LT(judgement::MaxFramesForChallenges(judgement::ChallengePolicy{}, 2), needed);
}

TEST(ConfigTest, TrustedProxiesAreAddressesOrRanges) {
  auto c = ParseServerConfig(R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
      "policy_file":"p","listen":{"trusted_proxies":["127.0.0.2","10.0.0.0/8","2001:db8::/32"]}})", "/tmp");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.trusted_proxies, (std::vector<std::string>{"127.0.0.2", "10.0.0.0/8", "2001:db8::/32"}));
  auto none = ParseServerConfig(kMinimal, "/tmp");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->listen.trusted_proxies.empty());  // default: no balancer, every PROXY header refused
}

TEST(ConfigTest, MinimalGetsDefaultsAndResolvesPaths) {
  auto c = ParseServerConfig(kMinimal, "/etc/lg");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.address, "127.0.0.1");
  EXPECT_EQ(c->database.uri, "sqlite:/etc/lg/data/x.db");
  EXPECT_EQ(c->policy_file, "/etc/lg/policy.json");
  EXPECT_EQ(c->tls.generated_dir, "/etc/lg/tls");
  EXPECT_EQ(c->log.audit_file, "/etc/lg/audit.log");
  EXPECT_EQ(c->limits.read_timeout_ms, 5000);
  EXPECT_EQ(c->limits.challenge_lifetime_seconds, 120);
  EXPECT_EQ(c->limits.max_open_flows_per_account, 3);  // the cap has no "off" (issue 12)
  EXPECT_TRUE(c->admin.token_sha256_hex.empty());
}

struct BadCase {
  const char* json;
  const char* reason;
  const char* mentions;
};

TEST(ConfigTest, EachMistakeHasItsReason) {
  const BadCase cases[] = {
      {"{", "config.bad_json", "not valid JSON"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"}})",
       "config.missing", "policy_file"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","limits":{"thread_pool_size":0}})",
       "config.out_of_range", "limits.thread_pool_size"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","limits":{"header_timeout_ms":0}})",
       "config.out_of_range", "limits.header_timeout_ms"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","limits":{"max_header_bytes":100}})",
       "config.out_of_range", "limits.max_header_bytes"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","limits":{"max_connections":10,"max_connections_per_address":11}})",
       "config.bad_value", "max_connections_per_address"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","limits":{"max_open_flows_per_account":0}})",
       "config.out_of_range", "limits.max_open_flows_per_account"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","limits":{"thread_pool":4}})",
       "config.unknown_key", "limits.thread_pool"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","listen":{"port":"80"}})",
       "config.bad_type", "listen.port"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","listen":{"trusted_proxies":["0.0.0.0/0"]}})",
       "config.bad_value", "listen.trusted_proxies"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","listen":{"trusted_proxies":["lb.example"]}})",
       "config.bad_value", "listen.trusted_proxies"},
      {R"({"tls":{"generate":true},"database":{"uri":"mysql://x"},"master_key":{"env":"K"},
           "policy_file":"p"})",
       "config.bad_value", "database.uri"},
      {R"({"tls":{"generate":true,"cert":"c.pem","key":"k.pem"},"database":{"uri":"sqlite:x"},
           "master_key":{"env":"K"},"policy_file":"p"})",
       "config.bad_value", "tls"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K","file":"f"},
           "policy_file":"p"})",
       "config.bad_value", "master_key"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","srp":{"allowed_groups":["modp/srp/1024"],"default_group":"modp/srp/1024"}})",
       "config.bad_value", "R-SRP-5"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","admin":{"token_sha256":"abc"}})",
       "config.bad_value", "admin.token_sha256"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","log":{"audit_failure":"ignore"}})",
       "config.bad_value", "log.audit_failure must be refuse or continue"},
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","limits":{"max_body_bytes":100000,"max_frames":24,"max_frame_bytes":262144}})",
       "config.bad_value", "max_body_bytes"},
      // Fits as raw bytes (23.6 MB < 24 MiB) but not base64-encoded in the sealed JSON.
      {R"({"tls":{"generate":true},"database":{"uri":"sqlite:x"},"master_key":{"env":"K"},
           "policy_file":"p","limits":{"max_body_bytes":25165824,"max_frames":360,"max_frame_bytes":65536}})",
       "config.bad_value", "base64"},
  };
  for (const auto& c : cases) {
    auto r = ParseServerConfig(c.json, "/tmp");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().reason(), c.reason) << c.json << " -> " << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.mentions), std::string::npos)
        << r.status().message();
  }
}

TEST(ConfigTest, UnreadableFile) {
  auto r = LoadServerConfig("/nonexistent/livegate.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "config.unreadable");
}

}  // namespace
}  // namespace livegate::server
