#include "server/config.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "server/http_parser.h"
#include "server/strict_json.h"

namespace livegate::server {
namespace {

std::filesystem::path Resolve(const std::filesystem::path& base, const std::string& p) {
  if (p.empty()) return {};
  std::filesystem::path path(p);
  return path.is_absolute() ? path : (base / path).lexically_normal();
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Bits of an RFC 5054 group name "modp/srp/N".
int SrpGroupBits(const std::string& name) {
  static const char* kPrefix = "modp/srp/";
  if (name.rfind(kPrefix, 0) != 0) return -1;
  const std::string bits = name.substr(9);
  if (bits != "1024" && bits != "1536" && bits != "2048" && bits != "3072" &&
      bits != "4096" && bits != "6144" && bits != "8192") {
    return -1;
  }
  return std::stoi(bits);
}

}  // namespace

Result<ServerConfig> ParseServerConfig(std::string_view json_text,
                                       const std::filesystem::path& base_dir) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::BadInput("config.bad_json", "the configuration file is not valid JSON");
  }
  ServerConfig c;
  StrictObject root(j, "", "config");
  std::string s;

  if (const auto* o = root.Child("listen", false)) {
    StrictObject x(*o, "listen", "config");
    x.String("address", c.listen.address, false);
    x.Int("port", c.listen.port, 0, 65535);
    x.StringList("trusted_proxies", c.listen.trusted_proxies);
    LG_RETURN_IF_ERROR(x.Finish());
    for (const auto& p : c.listen.trusted_proxies) {
      http::AddressRange r;
      if (const std::string why = http::ParseAddressRange(p, &r); !why.empty()) {
        return Status(StatusCode::kInvalidArgument, "config.bad_value",
                      "listen.trusted_proxies: \"" + p + "\": " + why);
      }
    }
  }

  if (const auto* o = root.Child("tls", true)) {
    StrictObject x(*o, "tls", "config");
    s.clear();
    x.String("cert", s);
    c.tls.cert_path = Resolve(base_dir, s);
    s.clear();
    x.String("key", s);
    c.tls.key_path = Resolve(base_dir, s);
    x.Bool("generate", c.tls.generate);
    s.clear();
    x.String("generated_dir", s);
    c.tls.generated_dir = s.empty() ? base_dir / "tls" : Resolve(base_dir, s);
    LG_RETURN_IF_ERROR(x.Finish());
    const bool has_paths = !c.tls.cert_path.empty() || !c.tls.key_path.empty();
    if (c.tls.generate == has_paths) {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "tls: give either both \"cert\" and \"key\", or \"generate\": true");
    }
    if (has_paths && (c.tls.cert_path.empty() || c.tls.key_path.empty())) {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "tls: \"cert\" and \"key\" must both be given");
    }
  }
  LG_RETURN_IF_ERROR(root.status());

  if (const auto* o = root.Child("database", true)) {
    StrictObject x(*o, "database", "config");
    x.Require("uri");
    x.String("uri", c.database.uri, false);
    LG_RETURN_IF_ERROR(x.Finish());
    if (!c.database.is_sqlite() && !c.database.is_postgresql()) {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "database.uri must start with \"sqlite:\" or \"postgresql://\"");
    }
    if (c.database.is_sqlite()) {
      if (c.database.sqlite_path().empty()) {
        return Status(StatusCode::kInvalidArgument, "config.bad_value",
                      "database.uri \"sqlite:\" needs a file path");
      }
      if (c.database.sqlite_path() != ":memory:") {
        c.database.uri = "sqlite:" + Resolve(base_dir, c.database.sqlite_path()).string();
      }
    }
  }
  LG_RETURN_IF_ERROR(root.status());

  if (const auto* o = root.Child("master_key", true)) {
    StrictObject x(*o, "master_key", "config");
    s.clear();
    x.String("file", s);
    c.master_key.file = Resolve(base_dir, s);
    x.String("env", c.master_key.env);
    s.clear();
    x.String("previous_file", s);
    c.master_key.previous_file = Resolve(base_dir, s);
    x.String("previous_env", c.master_key.previous_env);
    x.Int("fd", c.master_key.fd, 0, 1 << 20);
    LG_RETURN_IF_ERROR(x.Finish());
    const int sources = !c.master_key.file.empty() + !c.master_key.env.empty() + (c.master_key.fd >= 0);
    if (sources != 1) {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "master_key: give exactly one of \"file\", \"fd\" or \"env\"");
    }
    if (!c.master_key.previous_file.empty() && !c.master_key.previous_env.empty()) {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "master_key: give at most one of \"previous_file\" or \"previous_env\"");
    }
  }
  LG_RETURN_IF_ERROR(root.status());

  root.Require("policy_file");
  s.clear();
  root.String("policy_file", s, false);
  LG_RETURN_IF_ERROR(root.status());
  c.policy_file = Resolve(base_dir, s);
  s.clear();
  root.String("judgement_policy_file", s);
  c.judgement_policy_file = Resolve(base_dir, s);

  if (const auto* o = root.Child("limits", false)) {
    StrictObject x(*o, "limits", "config");
    auto& l = c.limits;
    x.Size("max_body_bytes", l.max_body_bytes, 1024, 64ull << 20);
    x.Size("max_header_bytes", l.max_header_bytes, 1024, 1u << 20);
    x.Int("max_header_count", l.max_header_count, 8, 1000);
    x.Int("header_timeout_ms", l.header_timeout_ms, 100, 120000);
    x.Int("body_timeout_ms", l.body_timeout_ms, 100, 3600000);
    x.Int("read_timeout_ms", l.read_timeout_ms, 100, 120000);
    x.Int("idle_timeout_ms", l.idle_timeout_ms, 100, 600000);
    x.Int("write_timeout_ms", l.write_timeout_ms, 100, 120000);
    x.Int("keep_alive_max_count", l.keep_alive_max_count, 1, 100000);
    x.Int("thread_pool_size", l.thread_pool_size, 1, 256);
    x.Int("max_connections", l.max_connections, 1, 1000000);
    x.Int("max_connections_per_address", l.max_connections_per_address, 1, 1000000);
    x.Int("max_frames", l.max_frames, 1, 1000);
    x.Size("max_frame_bytes", l.max_frame_bytes, 1024, 8ull << 20);
    x.Int("max_frame_side", l.max_frame_side, 64, 4096);
    x.Int("rate_per_account_per_minute", l.rate_per_account_per_minute, 0, 1000000);
    x.Int("rate_per_device_per_minute", l.rate_per_device_per_minute, 0, 1000000);
    x.Int("rate_per_address_per_minute", l.rate_per_address_per_minute, 0, 1000000);
    x.Int("replay_window_seconds", l.replay_window_seconds, 1, 3600);
    x.Int("challenge_lifetime_seconds", l.challenge_lifetime_seconds, 5, 3600);
    x.Int("flow_lifetime_seconds", l.flow_lifetime_seconds, 10, 86400);
    x.Int("max_open_flows_per_account", l.max_open_flows_per_account, 1, 100);
    LG_RETURN_IF_ERROR(x.Finish());
    if (l.max_connections_per_address > l.max_connections) {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "limits: max_connections_per_address exceeds max_connections");
    }
    if (CaptureBodyBytes(l.max_frames, l.max_frame_bytes) > l.max_body_bytes) {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "limits: a capture of max_frames frames of max_frame_bytes each needs " +
                        std::to_string(CaptureBodyBytes(l.max_frames, l.max_frame_bytes)) +
                        " bytes (base64 in the sealed JSON), more than max_body_bytes, so a valid "
                        "capture could be refused with 413");
    }
  }

  if (const auto* o = root.Child("srp", false)) {
    StrictObject x(*o, "srp", "config");
    x.StringList("allowed_groups", c.srp.allowed_groups);
    x.String("default_group", c.srp.default_group, false);
    x.String("hash", c.srp.hash, false);
    LG_RETURN_IF_ERROR(x.Finish());
  }
  if (c.srp.allowed_groups.empty()) {
    return Status(StatusCode::kInvalidArgument, "config.bad_value",
                  "srp.allowed_groups must name at least one group");
  }
  for (const auto& g : c.srp.allowed_groups) {
    const int bits = SrpGroupBits(g);
    if (bits < 0) {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "srp.allowed_groups: unknown group \"" + g + "\" (use modp/srp/2048..8192)");
    }
    if (bits < 2048) {  // R-SRP-5
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "srp.allowed_groups: \"" + g + "\" is below 2048 bits (R-SRP-5)");
    }
  }
  bool default_allowed = false;
  for (const auto& g : c.srp.allowed_groups) default_allowed |= (g == c.srp.default_group);
  if (!default_allowed) {
    return Status(StatusCode::kInvalidArgument, "config.bad_value",
                  "srp.default_group must be one of srp.allowed_groups");
  }
  if (c.srp.hash != "SHA-256" && c.srp.hash != "SHA-384" && c.srp.hash != "SHA-512") {
    return Status(StatusCode::kInvalidArgument, "config.bad_value",
                  "srp.hash must be SHA-256, SHA-384 or SHA-512");
  }

  if (const auto* o = root.Child("admin", false)) {
    StrictObject x(*o, "admin", "config");
    x.String("token_sha256", c.admin.token_sha256_hex);
    x.Int("rate_per_address_per_minute", c.admin.rate_per_address_per_minute, 0, 1000000);
    x.Int("failures_per_address_per_minute", c.admin.failures_per_address_per_minute, 0, 1000000);
    LG_RETURN_IF_ERROR(x.Finish());
    if (!c.admin.token_sha256_hex.empty() &&
        (c.admin.token_sha256_hex.size() != 64 || !IsHex(c.admin.token_sha256_hex))) {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "admin.token_sha256 must be 64 hex characters (sha256sum of the token)");
    }
  }

  if (const auto* o = root.Child("metrics", false)) {
    StrictObject x(*o, "metrics", "config");
    x.Bool("require_admin_token", c.metrics.require_admin_token);
    if (const auto* l = x.Child("listen", false)) {
      StrictObject y(*l, "metrics.listen", "config");
      y.String("address", c.metrics.listen_address, false);
      y.Require("port");
      y.Int("port", c.metrics.listen_port, 0, 65535);
      LG_RETURN_IF_ERROR(y.Finish());
    }
    LG_RETURN_IF_ERROR(x.Finish());
  }

  if (const auto* o = root.Child("log", false)) {
    StrictObject x(*o, "log", "config");
    x.String("level", c.log.level, false);
    s.clear();
    x.String("file", s);
    c.log.file = Resolve(base_dir, s);
    s.clear();
    x.String("audit_file", s);
    c.log.audit_file = Resolve(base_dir, s);
    x.Int("audit_refusal_window_seconds", c.log.audit_refusal_window_seconds, 1, 86400);
    x.String("audit_failure", c.log.audit_failure, false);
    LG_RETURN_IF_ERROR(x.Finish());
    const auto& lv = c.log.level;
    if (lv != "trace" && lv != "debug" && lv != "info" && lv != "warn" && lv != "error") {
      return Status(StatusCode::kInvalidArgument, "config.bad_value",
                    "log.level must be trace, debug, info, warn or error");
    }
    if (c.log.audit_failure != "refuse" && c.log.audit_failure != "continue") {
      return Status(StatusCode::kInvalidArgument, "config.bad_value", "log.audit_failure must be refuse or continue");
    }
  }
  if (c.log.audit_file.empty()) c.log.audit_file = base_dir / "audit.log";

  c.web.static_dir = LIVEGATE_WEB_DIR;
  if (const auto* o = root.Child("web", false)) {
    StrictObject x(*o, "web", "config");
    x.Bool("enabled", c.web.enabled);
    s.clear();
    x.String("static_dir", s);
    if (!s.empty()) c.web.static_dir = Resolve(base_dir, s);
    LG_RETURN_IF_ERROR(x.Finish());
  }

  if (const auto* o = root.Child("pad_model", false)) {
    StrictObject x(*o, "pad_model", "config");
    s.clear();
    x.String("file", s);
    if (!s.empty()) c.pad_model.file = Resolve(base_dir, s);
    x.String("sha256", c.pad_model.sha256);
    x.Int("input_size", c.pad_model.input_size, 16, 1024);
    x.Double("crop_scale", c.pad_model.crop_scale, 1.0, 4.0);
    x.Int("live_index", c.pad_model.live_index, 0, 15);
    LG_RETURN_IF_ERROR(x.Finish());
    if (c.pad_model.enabled() && c.pad_model.sha256.size() != 64) {
      return Status(StatusCode::kInvalidArgument, "config.missing",
                    "pad_model.sha256: a model file needs its SHA-256 pin (64 hex digits)");
    }
  }

  if (const auto* o = root.Child("testing", false)) {
    StrictObject x(*o, "testing", "config");
    s.clear();
    x.String("scripted_challenges_dir", s);
    c.testing.scripted_challenges_dir = Resolve(base_dir, s);
    LG_RETURN_IF_ERROR(x.Finish());
  }

  LG_RETURN_IF_ERROR(root.Finish());
  return c;
}

Result<ServerConfig> LoadServerConfig(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Status::BadInput("config.unreadable", "cannot read configuration file " + file.string());
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto base = std::filesystem::absolute(file).parent_path();
  auto r = ParseServerConfig(ss.str(), base);
  if (!r.ok()) {
    const auto& st = r.status();
    return Status(st.code(), st.reason(), file.string() + ": " + st.message());
  }
  return r;
}

}  // namespace livegate::server
