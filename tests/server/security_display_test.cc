// Attack regression (issue 15; R-ASD-4 replayed/injected video, R-SRV-ASJ-1,
// R-SEC-SRV-4 audit): forged screen-colour reports against a real
// `livegate-server` process over HTTPS, on SQLite and on PostgreSQL. An
// actions+light capture carries `display`, the colours the client drew full-
// screen and when (docs/API.md); the server checks it against the
// challenge's sequence before any frame is decoded (judgement::AlignDisplay)
// and judges the light response on the sequence as drawn.
//
// The server runs the SHIPPED decision policy: a new device with the
// no_trusted_environment flag scores 50, the high tier, actions+light with
// a random challenge the test reads from its procedure.
//
//   - ForgedReportsAreRefused: one flow per forgery, each refused with 400
//     and its own reason, nothing judged: no report (display.missing), a
//     colour the challenge did not ask for (display.colour_mismatch), the
//     whole sequence claimed 400 ms late (display.timing_mismatch), more
//     changes than the sequence has (display.too_many_changes) and more than
//     the protocol bound (codec.too_many_items), frames past the sequence
//     (display.frames_outside_sequence), a change claimed after the last
//     frame (display.outside_capture), upper-case hex (display.bad_colour),
//     a report on a challenge without colours (display.unexpected); the
//     audit log holds each refusal with its reason and no verdict, no
//     failure is counted;
//   - HonestReportIsRecordedAndTheVideoRefusedForTheLight: a recorded face
//     video (it cannot answer the screen) with an honest report: the report
//     passes, the audit entry of the capture holds the changes as reported
//     (relative to the first frame) and the verdict is the light refusal
//     (asd.not_live; replay.no_colour_response in the audit).
#include <set>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "server_process.h"

namespace livegate::server::testing {
namespace {

using protocol::CaptureSubmission;
using protocol::DisplayChangeMessage;
using protocol::FlowType;

constexpr const char* kPassword = "display-password";

class SecurityDisplayTest : public ServerProcessTest {
 protected:
  SecurityDisplayTest() : ServerProcessTest("security_display") {}

  // The shipped decision policy; scripted challenges allowed (the honest
  // video case names the challenge its recording answers); rate limits and
  // the open-flow cap out of the way (each refused capture leaves its flow open).
  void StartServer() {
    std::filesystem::create_directories(dir_ / "challenges");
    std::ofstream(dir_ / "judgement.json") << R"({"challenge": {"allow_scripted": true}})";
    ServerProcess::Setup setup;
    setup.db_uri = db_uri_;
    setup.extra = {
        {"limits", {{"rate_per_account_per_minute", 1000000}, {"rate_per_device_per_minute", 1000000},
                    {"rate_per_address_per_minute", 1000000}, {"max_open_flows_per_account", 64},
                    {"max_frames", 60}, {"max_body_bytes", 32 << 20}}},
        {"judgement_policy_file", (dir_ / "judgement.json").string()},
        {"testing", {{"scripted_challenges_dir", (dir_ / "challenges").string()}}}};
    server_ = std::make_unique<ServerProcess>();
    ASSERT_EQ(server_->Start(dir_ / "srv", setup), "");
    http_ = std::make_unique<TestHttp>(server_->port(), server_->cert_pem(), dir_);
    ASSERT_EQ(CreateAccount(*http_, "victim", kPassword).status, 201);
    ASSERT_EQ(CreateAccount(*http_, "video", kPassword).status, 201);
  }

  // A registration flow up to its procedure; `trusted` false adds the
  // no_trusted_environment flag (the high tier, actions+light).
  struct Flow {
    std::unique_ptr<FlowClient> client;
    protocol::Procedure procedure;
    std::string device;
  };
  Flow Open(const std::string& account, bool light = true) {
    Flow f;
    f.device = "dev-" + crypto::HexEncode(crypto::RandomBytes(4));
    f.client = std::make_unique<FlowClient>(*http_, TestClock{});
    EXPECT_EQ(f.client->Start(FlowType::kRegistration, account, f.device).status, 200);
    EXPECT_EQ(f.client->Verify(account, kPassword).status, 200);
    auto risk = CleanRisk();
    if (light) risk.integrity_flags = {"no_trusted_environment"};
    auto p = f.client->Risk(risk);
    EXPECT_TRUE(p.has_value());
    if (p) f.procedure = *p;
    EXPECT_EQ(f.procedure.asd_type, light ? "actions+light" : "actions");
    return f;
  }

  // The sequence's changes as an honest client draws them: each colour at
  // its start (+ lag), "none" where no colour follows at once.
  static std::vector<DisplayChangeMessage> Honest(const nlohmann::json& challenge, std::int64_t origin,
                                                  std::int64_t lag = 30) {
    std::vector<DisplayChangeMessage> out;
    const auto& colours = challenge.at("colours");
    for (std::size_t i = 0; i < colours.size(); ++i) {
      out.push_back({origin + colours[i].at("start_ms").get<std::int64_t>() + lag, colours[i].at("rgb")});
      if (i + 1 == colours.size() || colours[i + 1].at("start_ms") != colours[i].at("end_ms")) {
        out.push_back({origin + colours[i].at("end_ms").get<std::int64_t>() + lag, "none"});
      }
    }
    return out;
  }

  // A package of `n` tiny JPEG-looking frames every `step` ms from `origin`
  // (never decoded: every forgery is refused before the frames are).
  static CaptureSubmission Package(const Flow& f, std::int64_t origin, int n, std::int64_t step) {
    CaptureSubmission s;
    s.challenge_id = f.procedure.challenge.at("id");
    s.session_nonce = f.procedure.session_nonce;
    for (int i = 0; i < n; ++i) s.frames.push_back({origin + i * step, {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10}});
    s.client.live = true;
    s.client.quality = 0.8;
    s.client.best_frame = 0;
    s.device_credential = MakeDeviceCredential(f.device, "device-secret");
    return s;
  }
  // `n` frames spread over the challenge's duration.
  static CaptureSubmission Spread(const Flow& f, std::int64_t origin, int n = 40) {
    const std::int64_t duration = f.procedure.challenge.at("duration_ms");
    return Package(f, origin, n, duration / n);
  }

  HttpResult Send(Flow& f, const CaptureSubmission& s) {
    HttpResult raw;
    f.client->Capture(s, &raw);
    return raw;
  }

  // The audit log's entries for `account` whose action ends in ".capture".
  std::vector<nlohmann::json> CaptureAudit(const std::string& account) {
    std::vector<nlohmann::json> out;
    std::istringstream in(ReadWholeFile(server_->audit_log()));
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || j.value("subject", "") != account) continue;
      const std::string action = j.value("action", "");
      if (action.size() >= 8 && action.compare(action.size() - 8, 8, ".capture") == 0) out.push_back(j);
    }
    return out;
  }

};

TEST_P(SecurityDisplayTest, ForgedReportsAreRefused) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::int64_t origin = 5000;  // the client's clock: any origin, the first frame's
  struct Case {
    const char* name;
    std::function<void(const Flow&, CaptureSubmission&)> forge;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"no report", [](const Flow&, CaptureSubmission& s) { s.display.reset(); }, "display.missing"},
      {"a colour the challenge did not ask for",
       [](const Flow&, CaptureSubmission& s) {
         auto& c = (*s.display)[1];
         c.rgb = c.rgb == "#ffffff" ? "#000001" : "#ffffff";
       },
       "display.colour_mismatch"},
      {"the colours in another order",
       [](const Flow&, CaptureSubmission& s) { std::swap((*s.display)[0].rgb, (*s.display)[1].rgb); },
       "display.colour_mismatch"},
      {"the sequence claimed 400 ms late",
       [](const Flow&, CaptureSubmission& s) {
         for (auto& c : *s.display) c.t_ms += 400;
       },
       "display.timing_mismatch"},
      {"one change shifted by a window",
       [](const Flow& f, CaptureSubmission& s) {
         (*s.display)[1].t_ms += f.procedure.challenge.at("colours")[1].at("end_ms").get<std::int64_t>() -
                                 f.procedure.challenge.at("colours")[1].at("start_ms").get<std::int64_t>() - 100;
       },
       "display.timing_mismatch"},
      {"more changes than the sequence has",
       [](const Flow&, CaptureSubmission& s) {
         s.display->push_back({s.display->back().t_ms + 200, "#ff0000"});
         s.display->push_back({s.display->back().t_ms + 200, "none"});
       },
       "display.too_many_changes"},
      {"more changes than the protocol allows",
       [](const Flow&, CaptureSubmission& s) {
         std::vector<DisplayChangeMessage> flood;
         for (int i = 0; i < 65; ++i) flood.push_back({5000 + i, i % 2 ? "none" : "#ff0000"});
         s.display = flood;
       },
       "codec.too_many_items"},
      {"frames past the sequence",
       [](const Flow& f, CaptureSubmission& s) {
         s.frames.push_back({s.frames.back().timestamp_ms + f.procedure.challenge.at("duration_ms").get<std::int64_t>(),
                             s.frames.back().jpeg});
       },
       "display.frames_outside_sequence"},
      {"a change before the first frame",
       [](const Flow&, CaptureSubmission& s) {
         for (auto& c : *s.display) c.t_ms -= 5000;  // another clock than the frames'
       },
       "display.outside_capture"},
      {"upper-case colours", [](const Flow&, CaptureSubmission& s) { (*s.display)[0].rgb = "#FF0000"; },
       "display.bad_colour"},
      {"changes out of order",
       [](const Flow&, CaptureSubmission& s) { (*s.display)[1].t_ms = (*s.display)[0].t_ms; }, "display.not_in_order"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Flow f = Open("victim");
    ASSERT_FALSE(f.procedure.challenge.at("colours").empty());
    CaptureSubmission s = Spread(f, origin);
    s.display = Honest(f.procedure.challenge, origin);
    c.forge(f, s);
    const HttpResult r = Send(f, s);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.reason, c.reason) << r.body;
  }
  // A report on a challenge without colours (the medium tier: actions).
  {
    Flow f = Open("victim", /*light=*/false);
    EXPECT_TRUE(f.procedure.challenge.value("colours", nlohmann::json::array()).empty());
    CaptureSubmission s = Spread(f, origin);
    s.display = std::vector<DisplayChangeMessage>{{origin, "#ff0000"}, {origin + 600, "none"}};
    const HttpResult r = Send(f, s);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.reason, "display.unexpected") << r.body;
  }
  // Nothing was judged or written: each refusal is audited with its reason
  // only (no verdict, no display record), and no failure is counted.
  std::set<std::string> expected = {"display.unexpected"}, audited;
  for (const auto& c : cases) expected.insert(c.reason);
  for (const auto& e : CaptureAudit("victim")) {
    EXPECT_EQ(e.value("result", ""), "refused") << e.dump();
    const auto reasons = e.at("reasons").get<std::vector<std::string>>();
    ASSERT_FALSE(reasons.empty());
    audited.insert(reasons[0]);
    for (const auto& r : reasons) {
      EXPECT_TRUE(r.rfind("asd.", 0) != 0 && r.rfind("replay.", 0) != 0 && r.rfind("display:", 0) != 0) << e.dump();
    }
  }
  EXPECT_EQ(audited, expected);
  auto view = http_->Get("/v1/admin/accounts/victim", kAdminToken);
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_EQ(nlohmann::json::parse(view.body).value("failure_count", -1), 0) << view.body;
}

TEST_P(SecurityDisplayTest, HonestReportIsRecordedAndTheVideoRefusedForTheLight) {
  LG_REQUIRE_TEST_DATA("2_face_video/liveportrait/liveportrait_d10.mp4");
  LG_REQUIRE_MODELS();
  ASSERT_NO_FATAL_FAILURE(StartServer());
  // The challenge the recording answers (a mouth held open throughout, as
  // the browser light test), with four colours from 600 ms.
  std::ofstream(dir_ / "challenges" / "video.registration.json") << R"({"type":"actions+light","scripted":true,
    "duration_ms":8000,"steps":[{"action":"open_mouth","start_ms":0,"end_ms":8000}],
    "colours":[{"rgb":"#ff0000","start_ms":600,"end_ms":1200},{"rgb":"#00ff00","start_ms":1200,"end_ms":1800},
               {"rgb":"#0000ff","start_ms":1800,"end_ms":2400},{"rgb":"#ff00ff","start_ms":2400,"end_ms":3000}]})";
  Flow f = Open("video");
  ASSERT_EQ(f.procedure.challenge.at("colours").size(), 4u);
  CaptureSubmission s = Package(f, 0, 0, 1);
  const std::int64_t origin = 7000;
  for (auto& fr : FramesFromVideo(livegate::testing::TestDataDir() / "2_face_video/liveportrait/liveportrait_d10.mp4",
                                  0, 120, 3)) {
    s.frames.push_back({origin + fr.timestamp_ms, std::move(fr.jpeg)});
  }
  ASSERT_GE(s.frames.size(), 30u);
  // Drawn with uneven lags, as a browser does (within the 250 ms tolerance).
  s.display = Honest(f.procedure.challenge, origin);
  const std::vector<std::int64_t> lag = {12, 47, 90, 25, 160};
  ASSERT_EQ(s.display->size(), lag.size());
  for (std::size_t i = 0; i < lag.size(); ++i) (*s.display)[i].t_ms += lag[i] - 30;
  const HttpResult raw = [&] {
    HttpResult r;
    auto fr = f.client->Capture(s, &r);
    EXPECT_TRUE(fr.has_value()) << r.status << " " << r.body;
    if (fr) {
      EXPECT_EQ(fr->outcome, "refused");
      EXPECT_EQ(fr->reasons, std::vector<std::string>{"asd.not_live"});
    }
    return r;
  }();
  ASSERT_EQ(raw.status, 200) << raw.body;
  const auto audit = CaptureAudit("video");
  ASSERT_EQ(audit.size(), 1u);
  std::vector<std::string> reasons = audit[0].at("reasons").get<std::vector<std::string>>();
  const auto has = [&](const std::string& r) { return std::find(reasons.begin(), reasons.end(), r) != reasons.end(); };
  EXPECT_TRUE(has("replay.no_colour_response")) << audit[0].dump();
  // The report as received, relative to the first frame.
  EXPECT_TRUE(has("display:ff0000@612/00ff00@1247/0000ff@1890/ff00ff@2425/none@3160")) << audit[0].dump();
  EXPECT_TRUE(has("display.max_offset_ms:160")) << audit[0].dump();
}

INSTANTIATE_TEST_SUITE_P(Backends, SecurityDisplayTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         storage::testing::BackendName);

}  // namespace
}  // namespace livegate::server::testing
