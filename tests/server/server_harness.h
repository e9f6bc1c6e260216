// Test harness for the server: a real HTTPS server in-process on a random
// port (cpp-httplib's own test style) over a real database (SQLite in a temp
// folder, or PostgreSQL when LIVEGATE_PG_URI is set), TLS material and the
// master key generated at test time, and a protocol client speaking SRP-6a
// and sealed messages exactly as docs/API.md describes.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "crypto/kdf.h"
#include "crypto/key_manager.h"
#include "crypto/key_store.h"
#include "crypto/sealed_channel.h"
#include "crypto/srp6a.h"
#include "judgement/judgement.h"
#include "protocol/envelope.h"
#include "protocol/messages.h"
#include "server/audit.h"
#include "server/capture_judge.h"
#include "server/decision_logic.h"
#include "server/http_server.h"
#include "server/service.h"
#include "storage/reference_store.h"
#include "storage/store_test_env.h"
#include "support/test_data.h"
#include "vision/image_io.h"

namespace livegate::server::testing {

using storage::testing::Backend;
using storage::testing::TestDatabase;

constexpr const char* kAdminToken = "test-admin-token-0123456789";

// The judgement policy of tests that script challenges for recorded clips:
// the shipped defaults with scripted challenges allowed (tests only).
inline judgement::Policy AllowScriptedJudgementPolicy() {
  judgement::Policy p;
  p.challenge.allow_scripted = true;
  return p;
}

// ChallengeSource for in-process tests: a scripted challenge of the type the
// decision logic chose, 8 s, no actions (the test policies keep sessions in
// the passive tier: a recorded clip cannot follow a random challenge).
inline Result<judgement::Challenge> ScriptedChallengeOfDecidedType(const judgement::Policy&,
                                                                   judgement::AsdType type) {
  judgement::Challenge c;
  c.id = crypto::HexEncode(crypto::RandomBytes(16));
  c.type = type;
  c.duration_ms = 8000;
  c.scripted = true;
  return c;
}

// One shared manual clock (milliseconds) for store, service and client.
struct TestClock {
  std::shared_ptr<std::atomic<std::int64_t>> ms =
      std::make_shared<std::atomic<std::int64_t>>(std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch()).count());
  std::function<std::int64_t()> Ms() const {
    auto p = ms;
    return [p] { return p->load(); };
  }
  storage::Clock Store() const {
    auto p = ms;
    return [p] { return storage::Timestamp(std::chrono::milliseconds(p->load())); };
  }
  void Advance(std::int64_t d) { ms->fetch_add(d); }
};

inline Policy TestPolicy() {
  auto p = LoadPolicy(livegate::testing::SourceDir() / "config/policy.default.json");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : Policy{};
}

// One server process: its own store connection, service and HTTPS listener
// over a shared database (two of these = two processes on one database).
class TestServer {
 public:
  struct Options {
    Policy policy = TestPolicy();
    judgement::Policy judgement_policy;
    LimitOptions limits;
    ChallengeSource challenge_source;
    std::filesystem::path scripted_challenges_dir;  // the external-client hook
    std::string expect_create_failure;  // a test of a refused start names the reason
    AnalyzerPool* analyzers = nullptr;
  };

  TestServer(const TestDatabase& db, const crypto::KeyManager& keys, const TestClock& clock,
             Options o, const std::filesystem::path& tls_dir) {
    auto store = db.Open(clock.Store());
    if (!store.ok()) {
      ADD_FAILURE() << store.status().ToString();
      return;
    }
    store_ = std::move(store).value();
    ServiceDeps deps;
    deps.store = store_.get();
    deps.keys = &keys;
    deps.analyzers = o.analyzers;
    deps.audit = &audit_;
    deps.metrics = &metrics_;
    deps.policy = o.policy;
    deps.judgement_policy = o.judgement_policy;
    deps.limits = o.limits;
    deps.srp.allowed_groups = {"modp/srp/2048", "modp/srp/3072"};
    deps.srp.default_group = "modp/srp/2048";  // the fastest allowed group keeps tests quick
    deps.admin.token_sha256_hex = crypto::HexEncode(crypto::Sha256(crypto::AsBytes(kAdminToken)));
    deps.challenge_source = o.challenge_source;
    deps.scripted_challenges_dir = o.scripted_challenges_dir;
    deps.now_ms = clock.Ms();
    auto service = Service::Create(deps);
    if (!service.ok()) {
      create_status_ = service.status();
      if (o.expect_create_failure.empty() || service.status().reason() != o.expect_create_failure) {
        ADD_FAILURE() << service.status().ToString();
      }
      return;
    }
    service_ = std::move(service).value();
    crypto::TlsOptions to;
    to.key_dir = tls_dir.string();
    auto tls = crypto::LoadOrCreateTlsMaterial(to, keys);
    if (!tls.ok()) {
      ADD_FAILURE() << tls.status().ToString();
      return;
    }
    cert_pem_ = tls->cert_pem;
    HttpServerOptions ho;
    ho.cert_pem = tls->cert_pem;
    ho.key_pem = tls->key_pem;
    ho.max_body_bytes = o.limits.max_body_bytes;
    ho.thread_pool_size = 4;
    ho.read_timeout_ms = 2000;
    auto http = HttpServer::Create(ho, &metrics_);
    if (!http.ok()) {
      ADD_FAILURE() << http.status().ToString();
      return;
    }
    http_ = std::move(http).value();
    service_->RegisterRoutes(*http_);
    Status st = http_->Start();
    if (!st.ok()) ADD_FAILURE() << st.ToString();
  }
  ~TestServer() {
    if (http_) http_->Stop();
  }
  bool ok() const { return http_ != nullptr && service_ != nullptr; }
  int port() const { return http_->port(); }
  const std::string& cert_pem() const { return cert_pem_; }
  storage::ReferenceStore& store() { return *store_; }
  LogAuditTrail& audit() { return audit_; }
  Metrics& metrics() { return metrics_; }
  Service& service() { return *service_; }
  const Status& create_status() const { return create_status_; }

 private:
  std::unique_ptr<storage::ReferenceStore> store_;
  LogAuditTrail audit_{10000};
  Metrics metrics_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<HttpServer> http_;
  std::string cert_pem_;
  Status create_status_;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::string reason;  // error.reason when the body is an error object
  std::string retry_after;  // the Retry-After header, if any
};

// HTTPS client pinned to the test server's certificate.
class TestHttp {
 public:
  TestHttp(int port, const std::string& cert_pem, const std::filesystem::path& dir) {
    ca_path_ = dir / ("ca_" + std::to_string(port) + ".pem");
    std::ofstream(ca_path_) << cert_pem;
    cli_ = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
    cli_->set_ca_cert_path(ca_path_.string().c_str());
    cli_->enable_server_certificate_verification(true);
    cli_->set_read_timeout(120, 0);
    cli_->set_connection_timeout(5, 0);
  }
  HttpResult Post(const std::string& path, const std::string& body,
                  const std::string& content_type = "application/json",
                  const std::string& bearer = "") {
    httplib::Headers h;
    if (!bearer.empty()) h.emplace("Authorization", "Bearer " + bearer);
    return Wrap(cli_->Post(path.c_str(), h, body, content_type.c_str()));
  }
  HttpResult Get(const std::string& path, const std::string& bearer = "") {
    httplib::Headers h;
    if (!bearer.empty()) h.emplace("Authorization", "Bearer " + bearer);
    return Wrap(cli_->Get(path.c_str(), h));
  }
  HttpResult Delete(const std::string& path, const std::string& bearer = "") {
    httplib::Headers h;
    if (!bearer.empty()) h.emplace("Authorization", "Bearer " + bearer);
    return Wrap(cli_->Delete(path.c_str(), h));
  }

 private:
  static HttpResult Wrap(const httplib::Result& res) {
    HttpResult r;
    if (!res) {
      r.status = -1;
      r.reason = "transport:" + httplib::to_string(res.error());
      return r;
    }
    r.status = res->status;
    r.body = res->body;
    r.retry_after = res->get_header_value("Retry-After");
    if (res->get_header_value("Content-Type").rfind("application/json", 0) == 0) {
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_object() && j.contains("error")) r.reason = j["error"].value("reason", "");
    }
    return r;
  }
  std::filesystem::path ca_path_;
  std::unique_ptr<httplib::SSLClient> cli_;
};

// Admin helper: provisions an account with a password verifier computed
// locally (the server never sees the password).
inline HttpResult CreateAccount(TestHttp& http, const std::string& account,
                                const std::string& password, const std::string& group = "modp/srp/2048") {
  auto g = crypto::SrpGroup::Create({group, "SHA-256"});
  crypto::SrpVerifier v;
  if (g.ok()) {
    v = *crypto::MakeSrpVerifier(*g, account, password);
  } else {  // a group the client library refuses: send plausible bytes
    v.salt = crypto::RandomBytes(32);
    v.verifier = crypto::RandomBytes(128);
  }
  nlohmann::json j{{"account_id", account}, {"srp_group", group}, {"srp_hash", "SHA-256"},
                   {"salt", crypto::Base64UrlEncode(v.salt)},
                   {"verifier", crypto::Base64UrlEncode(v.verifier)}};
  return http.Post("/v1/admin/accounts", j.dump(), "application/json", kAdminToken);
}

// The client side of one flow.
class FlowClient {
 public:
  FlowClient(TestHttp& http, const TestClock& clock) : http_(http), clock_(clock) {}

  // Step 1-2a. Returns the HTTP result; on 200 keeps the SRP answer.
  HttpResult Start(protocol::FlowType flow, const std::string& account, const std::string& device) {
    protocol::StartFlowRequest req{flow, account, device};
    auto r = http_.Post("/v1/flows", protocol::ToJson(req));
    if (r.status == 200) {
      auto s = protocol::ParseStartFlowResponse(r.body);
      EXPECT_TRUE(s.ok()) << s.status().ToString();
      if (s.ok()) start_ = *s;
    }
    return r;
  }
  // Step 2b: SRP proofs with identity/secret; on success opens the channel.
  HttpResult Verify(const std::string& identity, const std::string& secret) {
    return VerifyVia(http_, identity, secret);
  }
  // The same, sent to another server (flow state lives in the database).
  HttpResult VerifyVia(TestHttp& http, const std::string& identity, const std::string& secret) {
    auto g = crypto::SrpGroup::Create({start_.srp_group, start_.srp_hash});
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    auto c = crypto::SrpClientSession::Respond(*g, identity, secret, start_.salt, start_.B);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    auto r = http.Post("/v1/flows/" + start_.flow_id + "/verify",
                        protocol::ToJson(protocol::VerifyRequest{c->A(), c->M1()}));
    if (r.status == 200) {
      auto v = protocol::ParseVerifyResponse(r.body);
      EXPECT_TRUE(v.ok());
      EXPECT_TRUE(c->VerifyServer(v->M2).ok()) << "server proof M2 rejected";
      auto ch = crypto::SealedChannel::Create(c->session_key(), start_.channel_id, start_.server_nonce,
                                              crypto::ChannelRole::kClient, {}, clock_.Ms());
      EXPECT_TRUE(ch.ok());
      channel_.emplace(std::move(ch).value());
    }
    return r;
  }
  // Seals `body` (advancing the client's sequence) without sending it.
  std::string Seal(const std::string& body) {
    auto wire = protocol::SealToWire(*channel_, crypto::AsBytes(body));
    EXPECT_TRUE(wire.ok());
    return wire.ok() ? std::string(wire->begin(), wire->end()) : std::string();
  }
  // Seals `body` and posts it to /v1/flows/{id}/{step}; keeps the wire bytes.
  HttpResult PostSealed(const std::string& step, const std::string& body) {
    last_wire_ = Seal(body);
    return PostWire(step, last_wire_);
  }
  HttpResult PostWire(const std::string& step, const std::string& wire) {
    return http_.Post("/v1/flows/" + start_.flow_id + "/" + step, wire, "application/octet-stream");
  }
  std::optional<std::string> OpenReply(const HttpResult& r) {
    if (r.status != 200) return std::nullopt;
    auto plain = protocol::OpenFromWire(*channel_, crypto::AsBytes(r.body));
    EXPECT_TRUE(plain.ok()) << plain.status().ToString();
    if (!plain.ok()) return std::nullopt;
    return std::string(plain->begin(), plain->end());
  }
  // Steps 3-4.
  std::optional<protocol::Procedure> Risk(const protocol::RiskReport& report, HttpResult* raw = nullptr) {
    auto r = PostSealed("risk", protocol::ToJson(report));
    if (raw) *raw = r;
    auto text = OpenReply(r);
    if (!text) return std::nullopt;
    auto p = protocol::ParseProcedure(*text);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (p.ok()) procedure_ = *p;
    return procedure_;
  }
  // Steps 8-11.
  std::optional<protocol::FlowResult> Capture(const protocol::CaptureSubmission& sub, HttpResult* raw = nullptr) {
    auto r = PostSealed("capture", protocol::ToJson(sub));
    if (raw) *raw = r;
    auto text = OpenReply(r);
    if (!text) return std::nullopt;
    auto fr = protocol::ParseFlowResult(*text);
    EXPECT_TRUE(fr.ok()) << fr.status().ToString();
    if (!fr.ok()) return std::nullopt;
    if (fr->next) procedure_ = *fr->next;
    return *fr;
  }
  const protocol::StartFlowResponse& start() const { return start_; }
  const protocol::Procedure& procedure() const { return procedure_; }
  const std::string& last_wire() const { return last_wire_; }

 private:
  TestHttp& http_;
  TestClock clock_;
  protocol::StartFlowResponse start_;
  std::optional<crypto::SealedChannel> channel_;
  protocol::Procedure procedure_;
  std::string last_wire_;
};

inline protocol::RiskReport CleanRisk(const std::string& device_type = "android-phone") {
  protocol::RiskReport r;
  r.device_type = device_type;
  r.platform = "android";
  r.os_version = "14";
  r.app_version = "1.0.0";
  return r;
}

// JPEG frames from a real video (frames [first, last), every `step`-th),
// down-scaled to fit max_side, with container timestamps re-based to 0.
inline std::vector<protocol::CaptureFrameMessage> FramesFromVideo(const std::filesystem::path& video,
                                                                  int first, int last, int step,
                                                                  int max_side = 480) {
  std::vector<protocol::CaptureFrameMessage> out;
  double t0 = -1;
  Status st = vision::ForEachVideoFrame(video, [&](const vision::VideoFrame& f) {
    if (f.index >= last) return false;
    if (f.index < first || (f.index - first) % step != 0) return true;
    cv::Mat img = f.bgr;
    const int side = std::max(img.cols, img.rows);
    if (side > max_side) {
      const double s = static_cast<double>(max_side) / side;
      cv::resize(img, img, cv::Size(), s, s, cv::INTER_AREA);
    }
    std::vector<std::uint8_t> jpeg;
    cv::imencode(".jpg", img, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
    if (t0 < 0) t0 = f.timestamp_ms;
    out.push_back({static_cast<std::int64_t>(f.timestamp_ms - t0), std::move(jpeg)});
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

inline protocol::DeviceCredential MakeDeviceCredential(const std::string& device_id,
                                                       const std::string& secret) {
  auto g = crypto::SrpGroup::Create({"modp/srp/2048", "SHA-256"});
  auto v = crypto::MakeSrpVerifier(*g, device_id, secret);
  return {"modp/srp/2048", "SHA-256", v->salt, v->verifier};
}

// What the database holds for an account (for "nothing was written").
struct AccountSnapshot {
  int devices = 0;
  int references = 0;
  bool user_key = false;
  bool operator==(const AccountSnapshot&) const = default;
};
inline AccountSnapshot Snapshot(storage::ReferenceStore& store, const std::string& account) {
  AccountSnapshot s;
  auto d = store.ListDevices(account);
  auto r = store.ListReferences(account);
  s.devices = d.ok() ? static_cast<int>(d->size()) : -1;
  s.references = r.ok() ? static_cast<int>(r->size()) : -1;
  s.user_key = store.GetUserKey(account).ok();
  return s;
}
inline std::ostream& operator<<(std::ostream& os, const AccountSnapshot& s) {
  return os << "{devices=" << s.devices << ", references=" << s.references
            << ", user_key=" << s.user_key << "}";
}

// Two server processes' worth of Service (a_, b_) on one database, each
// with its own HTTPS client (ha_, hb_): flow steps and failure counters
// must work alternately across them (issue 5). Fixtures derive from it and
// call StartServers from SetUp after their own skips.
class TwoServerTest : public ::testing::TestWithParam<Backend> {
 protected:
  void StartServers(const std::string& dir_prefix, const TestServer::Options& o) {
    dir_ = livegate::testing::MakeTempDir(dir_prefix);
    db_ = std::make_unique<TestDatabase>(GetParam());
    auto keys = crypto::KeyManager::FromKeys(crypto::RandomBytes(32));
    ASSERT_TRUE(keys.ok());
    keys_.emplace(std::move(keys).value());
    a_ = std::make_unique<TestServer>(*db_, *keys_, clock_, o, dir_ / "tls");
    b_ = std::make_unique<TestServer>(*db_, *keys_, clock_, o, dir_ / "tls");
    ASSERT_TRUE(a_->ok() && b_->ok());
    ha_ = std::make_unique<TestHttp>(a_->port(), a_->cert_pem(), dir_);
    hb_ = std::make_unique<TestHttp>(b_->port(), b_->cert_pem(), dir_);
  }
  void TearDown() override {
    ha_.reset();
    hb_.reset();
    a_.reset();
    b_.reset();
    db_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path dir_;
  std::unique_ptr<TestDatabase> db_;
  std::optional<crypto::KeyManager> keys_;
  TestClock clock_;
  std::unique_ptr<TestServer> a_, b_;
  std::unique_ptr<TestHttp> ha_, hb_;
};

}  // namespace livegate::server::testing
