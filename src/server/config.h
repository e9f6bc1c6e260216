// Server configuration: one JSON file, parsed strictly and validated at
// start-up so that a mistake stops the server with a clear reason instead of
// surfacing at the first request (R-SEC-SRV-1: the settings that guard access
// - admin token hash, limits, SRP groups - are checked before listening).
//
// Every field has a commented default. Relative paths in the file are
// resolved against the folder holding the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "livegate/status.h"

namespace livegate::server {

struct ListenOptions {
  std::string address = "127.0.0.1";  // IPv4/IPv6 literal or host name
  int port = 8443;                    // 0 = pick a free port (tests)
  // Load balancers that send a PROXY protocol header (v1 or v2) with the
  // client's address, as addresses or CIDR ranges (docs/DEPLOY.md). Their
  // connections must start with it; a header from any other address is
  // refused. Empty (default) = no load balancer in front.
  std::vector<std::string> trusted_proxies;
};

struct TlsOptions {
  // Either both paths to the operator's PEM files, or generate = true: a
  // self-signed certificate and an encrypted key are created at first run
  // in generated_dir (R-SEC-STO-1/2).
  std::filesystem::path cert_path;
  std::filesystem::path key_path;
  bool generate = false;
  std::filesystem::path generated_dir;  // default: <config dir>/tls
};

struct DatabaseOptions {
  // "sqlite:/path/to/file.db" or "postgresql://user@host:port/db".
  std::string uri;
  bool is_sqlite() const { return uri.rfind("sqlite:", 0) == 0; }
  bool is_postgresql() const {
    return uri.rfind("postgresql://", 0) == 0 || uri.rfind("postgres://", 0) == 0;
  }
  std::string sqlite_path() const { return is_sqlite() ? uri.substr(7) : std::string(); }
};

struct MasterKeyOptions {
  // Exactly one of: a file holding the 32-byte key as 64 hex characters
  // (mode 0600: a file readable or writable by group/others refuses
  // start-up), an open file descriptor to read it from (read once, then
  // closed: e.g. a pipe from a secret manager), or the name of an
  // environment variable holding the same (cleared and overwritten right
  // after reading, so the key is not left in /proc/<pid>/environ).
  // livegate-server's --master-key-file / --master-key-fd override these.
  // Loaded by server/master_key.h.
  std::filesystem::path file;
  std::string env;
  int fd = -1;
  // During master-key rotation only (docs/SECURITY.md): the PREVIOUS key,
  // at most one of a file (mode 0600, like `file`) or an environment
  // variable name. A named variable must be set at start-up. Neither given:
  // LIVEGATE_MASTER_KEY_PREVIOUS is still read when set (compatibility).
  std::filesystem::path previous_file;
  std::string previous_env;
};

struct LimitOptions {
  // HTTP transport (server/http_server.h; docs/SECURITY.md "Transport").
  // Deadlines cover a whole request, not each socket read (issue 12).
  std::size_t max_body_bytes = 32u << 20;  // larger requests get 413 (a full capture package fits)
  std::size_t max_header_bytes = 16384;   // request line + headers; larger get 431
  int max_header_count = 64;              // header fields; more get 431
  int header_timeout_ms = 10000;          // TLS handshake + request line + headers
  int body_timeout_ms = 60000;            // the whole body, after the headers
  int read_timeout_ms = 5000;             // longest silence inside a request
  int idle_timeout_ms = 5000;             // keep-alive wait for the next request
  int write_timeout_ms = 5000;            // the whole response
  int keep_alive_max_count = 100;         // requests per connection
  int thread_pool_size = 8;               // HTTP worker threads
  int max_connections = 1024;             // open connections in all
  int max_connections_per_address = 64;   // open connections from one peer address
  // Frames in one capture package: what a client following the capture
  // rate rule (judgement/capture_rate.h: every camera frame in blink
  // windows, ~15 fps elsewhere) sends for the longest 4-action challenge
  // the default policy draws (MaxFramesForChallenges = 360; issue 13).
  int max_frames = 360;
  // One JPEG frame: a 480-px face crop at JPEG quality 90 is ~20-50 KB; the
  // client lowers the quality until a frame fits. max_frames frames of this
  // size fit max_body_bytes (checked at start-up: CaptureBodyBytes).
  std::size_t max_frame_bytes = 64u << 10;
  int max_frame_side = 640;               // pixels, width and height
  // Rate limits: requests per minute (token bucket), 0 = off.
  int rate_per_account_per_minute = 30;
  int rate_per_device_per_minute = 30;
  int rate_per_address_per_minute = 120;
  int replay_window_seconds = 120;        // sealed-message timestamp skew
  int challenge_lifetime_seconds = 120;   // a challenge expires after this
  int flow_lifetime_seconds = 600;        // a whole flow (SRP to result)
  // Flows of one account id (known or not) open at once: started and not
  // yet finished, failed or expired. A start beyond it is refused (429
  // flow.too_many_open) - open flows are never evicted. Counted in the
  // database, so the cap holds across server processes (R-SEC-SRV-1).
  int max_open_flows_per_account = 3;
};

struct SrpOptions {
  // Botan group names (RFC 5054 groups). R-SRP-5: at least 2048 bits.
  std::vector<std::string> allowed_groups = {"modp/srp/3072", "modp/srp/4096"};
  std::string default_group = "modp/srp/3072";
  std::string hash = "SHA-256";
};

struct AdminOptions {
  // SHA-256 (hex) of the admin bearer token. Empty = admin API disabled.
  std::string token_sha256_hex;
  // Admin requests (and /metrics behind the token) per minute per address
  // (token bucket), checked before the token. High enough for scripted
  // provisioning; 0 = off.
  int rate_per_address_per_minute = 600;
  // Wrong admin tokens per minute per address: once spent, every admin
  // request from that address gets 429 until the bucket refills (a token
  // guesser is throttled; refusals are counted, not logged one by one).
  // 0 = off.
  int failures_per_address_per_minute = 10;
};

// Where /metrics is served (issue 12, finding 3).
struct MetricsOptions {
  // /metrics needs the admin bearer token (Authorization: Bearer ...).
  bool require_admin_token = true;
  // A separate HTTPS listener for /metrics only (same certificate), e.g. on
  // an interface only the monitoring network reaches; the API listener then
  // has no /metrics. listen_port -1 = no separate listener, 0 = any port.
  std::string listen_address = "127.0.0.1";
  int listen_port = -1;
  bool separate_listener() const { return listen_port >= 0; }
};

struct LogOptions {
  std::string level = "info";            // trace|debug|info|warn|error
  std::filesystem::path file;            // empty = stdout
  std::filesystem::path audit_file;      // empty = <config dir>/audit.log
  // Refused requests are aggregated per (address, reason) in windows of
  // this length: the first of a window has its own audit entry, the rest
  // one summary entry with their count (server/audit.h RefusalAggregator).
  int audit_refusal_window_seconds = 60;
  // When the audit log cannot be written (disk full, I/O error, its
  // database record down): "refuse" (default) answers every request that
  // would change or read account data with 503 audit.unavailable, and
  // /healthz with 503, until an append succeeds again (tried at most once a
  // second); "continue" answers as usual. In both, each event that could
  // not be appended goes whole to the server log and the first append that
  // works again is an audit.resumed entry counting them (R-SEC-SRV-4).
  std::string audit_failure = "refuse";  // refuse|continue
};

// The browser client (docs/WEB.md): static files served at /app/ on the
// API's origin.
struct WebOptions {
  bool enabled = true;                  // false: no /app/ route
  // Folder with index.html and lib/. Default: the repository's web/ folder
  // (compiled in as LIVEGATE_WEB_DIR); relative paths: against the config file.
  std::filesystem::path static_dir;
};

// Optional learned passive PAD model (issue 13; docs/ANTISPOOFING.md
// "Passive model slot"). Off (the default, and the shipped config) when
// `file` is empty: the product works without one. With a file, `sha256`
// is required and start-up refuses a file whose SHA-256 differs
// (model.pin_mismatch), before the network parser ever sees it. No model
// may be shipped with livegate (docs/MODELS.md): the operator brings one
// whose licence allows the use.
struct PadModelOptions {
  std::filesystem::path file;  // ONNX; relative paths: against the config file
  std::string sha256;          // 64 hex digits
  int input_size = 128;        // square network input (MiniFASNet: 128)
  double crop_scale = 1.5;     // crop side / face box's larger side
  int live_index = 0;          // softmax entry of the bona fide class
  bool enabled() const { return !file.empty(); }
};

// Test and evaluation hooks. Production leaves this section out.
struct TestingOptions {
  // Scripted-challenge hook (docs/API.md "Scripted challenges"): at step 4
  // the server reads DIR/<account>.<flow>.json, then DIR/<account>.json, and
  // uses the challenge found there instead of drawing one. Allowed only when
  // the judgement policy has challenge.allow_scripted (start-up refuses it
  // otherwise: config.scripted_not_allowed). Empty = off.
  std::filesystem::path scripted_challenges_dir;
};

struct ServerConfig {
  ListenOptions listen;
  TlsOptions tls;
  DatabaseOptions database;
  MasterKeyOptions master_key;
  std::filesystem::path policy_file;     // decision-logic policy (docs/POLICY.md)
  // Judgement thresholds (judgement/policy.h JSON). Empty = the judgement
  // module's pinned defaults.
  std::filesystem::path judgement_policy_file;
  LimitOptions limits;
  SrpOptions srp;
  AdminOptions admin;
  MetricsOptions metrics;
  LogOptions log;
  WebOptions web;
  PadModelOptions pad_model;
  TestingOptions testing;
};

// The largest request body a capture package of `frames` JPEG frames of
// `frame_bytes` each can need: each frame base64url in the sealed JSON
// (4/3) plus its field names, and 64 KiB for the rest of the message and
// the envelope. Start-up refuses max_body_bytes below this.
constexpr std::size_t CaptureBodyBytes(int frames, std::size_t frame_bytes) {
  return static_cast<std::size_t>(frames) * ((frame_bytes * 4 + 2) / 3 + 48) + (64u << 10);
}

// Reasons: config.unreadable, config.bad_json, config.unknown_key,
// config.bad_type, config.missing, config.out_of_range, config.bad_value.
// Every message names the JSON path of the offending field.
Result<ServerConfig> ParseServerConfig(std::string_view json_text,
                                       const std::filesystem::path& base_dir);
Result<ServerConfig> LoadServerConfig(const std::filesystem::path& file);

}  // namespace livegate::server
