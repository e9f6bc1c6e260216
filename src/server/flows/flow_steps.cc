// Steps 3-4 (risk data -> procedure + challenge) and 8-11 (capture ->
// judgement -> store / compare / shred) of the three flows. See
// flow_engine.cc for the overview; each block names its R-FLOW ID.
#include <chrono>
#include <cmath>

#include "crypto/kdf.h"
#include "crypto/sealed_channel.h"
#include "crypto/srp6a.h"
#include "judgement/capture_rate.h"
#include "judgement/judgement.h"
#include "protocol/envelope.h"
#include "protocol/messages.h"
#include "server/json_log.h"
#include "server/scripted_challenges.h"
#include "server/flows/flow_util.h"
#include "server/service.h"
#include "vision/image_io.h"

namespace livegate::server {

using nlohmann::json;
using protocol::FlowType;

using namespace flows;  // NOLINT: internal helpers of this folder

// ------------------------------------------- 3-4. risk data -> procedure

// Issues a fresh challenge bound to a fresh session nonce (R-FLOW-X2) and
// stores both in the flow state. Returns the procedure for the client.
// With the scripted-challenge hook on (tests only), a file named for the
// account and flow replaces the drawn challenge; which file matched goes
// to *scripted_file so the caller audits the use.
static Result<protocol::Procedure> IssueChallenge(json& state, const judgement::Policy& base,
                                                  const ChallengeSource& source,
                                                  const std::filesystem::path& scripted_dir,
                                                  const LimitOptions& limits, std::int64_t now_ms,
                                                  std::string* scripted_file) {
  const TierSettings settings = SettingsFromJson(state.at("settings"));
  const judgement::Policy jp = TierJudgementPolicy(base, settings);
  const crypto::Bytes nonce = crypto::RandomBytes(16);
  const judgement::AsdType type = ToJudgementAsd(settings.asd_type);
  Result<judgement::Challenge> challenge = Status::Internal("challenge.unset", "");
  LG_ASSIGN_OR_RETURN(auto scripted,
                      FindScriptedChallenge(scripted_dir, state.value("account_id", ""),
                                            state.value("flow", "")));
  if (scripted) {
    // The decision logic chose the tier; a file cannot override it, so a
    // test controls the ASD type through the policy it configures.
    if (scripted->challenge.type != type) {
      return Status(StatusCode::kFailedPrecondition, "challenge.scripted_type_mismatch",
                    "scripted challenge " + scripted->file.filename().string() + " is of type " +
                        std::string(judgement::AsdTypeName(scripted->challenge.type)) +
                        " but the decision logic chose " + std::string(judgement::AsdTypeName(type)));
    }
    scripted->challenge.id = crypto::HexEncode(crypto::RandomBytes(16));  // fresh per session
    LG_RETURN_IF_ERROR(judgement::ValidateChallenge(scripted->challenge, jp));
    challenge = std::move(scripted->challenge);
    // The audit names which of the two files matched (<account>.<flow>.json
    // or <account>.json): the folder is in the configuration and the
    // account is the entry's subject, and a full path would overflow the
    // 64-character reason field.
    if (scripted_file) *scripted_file = scripted->per_flow ? "scripted_file:account.flow" : "scripted_file:account";
  } else if (source) {
    challenge = source(jp, type);
  } else {
    challenge = judgement::DrawChallenge(jp, type, [](std::span<std::uint8_t> out) {
      auto b = crypto::RandomBytes(out.size());
      std::copy(b.begin(), b.end(), out.begin());
    });
  }
  if (!challenge.ok()) return challenge.status();
  challenge->bound_nonce = crypto::HexEncode(nonce);  // R-FLOW-X2
  const std::string cj = judgement::ChallengeToJson(*challenge);
  state["challenge"] = cj;
  state["nonce"] = B64(nonce);
  state["challenge_expires_ms"] = now_ms + static_cast<std::int64_t>(limits.challenge_lifetime_seconds) * 1000;

  protocol::Procedure p;
  p.biometric_type = state.at("biometric_type").get<std::string>();
  p.asd_type = std::string(AsdTypeName(settings.asd_type));
  p.tier = state.at("tier").get<std::string>();
  p.reasons = state.at("reasons").get<std::vector<std::string>>();
  p.challenge = json::parse(cj);
  p.session_nonce = nonce;
  p.challenge_expires_at_ms = state["challenge_expires_ms"].get<std::int64_t>();
  p.recaptures_left = state.value("recaptures_left", settings.max_recaptures);
  p.max_frames = limits.max_frames;
  p.max_frame_side = limits.max_frame_side;
  p.max_frame_bytes = limits.max_frame_bytes;
  return p;
}

struct Service::OpenedStep {
  crypto::SealedChannel channel;
  crypto::Bytes plain;
};

Result<Service::OpenedStep> Service::OpenSealedStep(const nlohmann::json& channel_state,
                                                    const std::string& body) {
  crypto::ChannelOptions co;
  co.timestamp_window_ms = static_cast<std::int64_t>(deps_.limits.replay_window_seconds) * 1000;
  co.lifetime_ms = static_cast<std::int64_t>(deps_.limits.flow_lifetime_seconds) * 1000;
  co.max_body_bytes = deps_.limits.max_body_bytes;
  StepTimer t(timings_.crypto_ns);
  LG_ASSIGN_OR_RETURN(crypto::SealedChannel channel,
                      crypto::SealedChannel::Restore(UnB64(channel_state), co, [this] { return NowMs(); }));
  LG_ASSIGN_OR_RETURN(crypto::Bytes plain, protocol::OpenFromWire(channel, crypto::AsBytes(body)));
  return OpenedStep{std::move(channel), std::move(plain)};
}

ApiResponse Service::RiskStep(const ApiRequest& r) {
  const std::string& flow_id = r.captures.at(0);
  std::string op = "flow.risk";
  if (auto st = CheckRate(per_address_, r.remote_addr, "address"); !st.ok()) return Refuse(st, op, r);
  auto ctx = LoadFlow(flow_id);
  if (!ctx.ok()) return Refuse(ctx.status(), op, r, "", flow_id);
  op = "flow." + ctx->row.flow_type + ".risk";
  const std::string account = ctx->row.account_id;
  const std::string device_id = ctx->state.value("device_id", "");
  if (ctx->row.step != kStepChannel) {
    return Refuse(Status(StatusCode::kFailedPrecondition, "flow.wrong_step",
                         "this flow is not waiting for risk data"),
                  op, r, account, flow_id);
  }
  // Decision 11.9 at every step (R-SEC-SRV-1): a flow that proved the
  // password before the account id was locked goes no further while it is.
  if (auto st = CheckNotLockedOut(account); !st.ok()) return Refuse(st, op, r, account, flow_id);
  auto opened = OpenSealedStep(ctx->state.at("channel"), r.body);
  if (!opened.ok()) return Refuse(opened.status(), op, r, account, flow_id);
  crypto::SealedChannel* channel = &opened->channel;
  const crypto::Bytes* plain = &opened->plain;
  // R-FLOW-REG-3 / AUT-3 / DER-3: risk data from the client.
  auto report = protocol::ParseRiskReport(std::string_view(
      reinterpret_cast<const char*>(plain->data()), plain->size()));
  if (!report.ok()) return Refuse(report.status(), op, r, account, flow_id);

  // What the server knows itself (decision 11.3).
  RiskData risk;
  risk.platform = report->platform;
  risk.os_version = report->os_version;
  risk.app_version = report->app_version;
  risk.integrity_flags = report->integrity_flags;
  std::string device_type = report->device_type;
  {
    StepTimer t(timings_.database_ns);
    auto acc = deps_.store->GetAccount(account);
    if (!acc.ok()) return Refuse(acc.status(), op, r, account, flow_id);
    if (acc->last_success) {
      risk.seconds_since_last_success =
          std::chrono::duration_cast<std::chrono::seconds>(Now() - *acc->last_success).count();
    }
    auto device = device_id.empty() ? Result<storage::Device>(Status::NotFound("x", "x"))
                                    : deps_.store->GetDevice(device_id);
    risk.known_device = device.ok() && device->account_id == account;
    if (ctx->type == FlowType::kAuthentication && risk.known_device) {
      device_type = device->device_type;  // bound to the credential (11.13)
    }
    auto refs = deps_.store->ListReferences(account);
    if (!refs.ok()) return Refuse(refs.status(), op, r, account, flow_id);
    if (ctx->type != FlowType::kRegistration) {
      bool has = false;
      for (const auto& ref : *refs) has |= ref.device_type == device_type;
      if (ctx->type == FlowType::kDeregistration && !has && !refs->empty()) {
        device_type = refs->front().device_type;  // compare with any reference held
        has = true;
      }
      if (!has) {
        return Refuse(Status::NotFound("reference.not_found",
                                       "no biometric reference is registered for this account"),
                      op, r, account, flow_id);
      }
    }
    const auto since = Now() - std::chrono::seconds(deps_.policy.lockout.window_seconds);
    auto fails = deps_.store->CountFailures(account, "", since);
    risk.recent_failures = fails.ok() ? *fails : 0;
    auto events = deps_.store->ListRiskEvents(account, since, 50);
    if (events.ok()) {
      for (const auto& e : *events) {
        if (e.reason_codes.find("client.mismatch") != std::string::npos) ++risk.client_mismatches;
      }
    }
    auto last = deps_.store->ListRiskEvents(account, storage::Timestamp{}, 1);
    const std::string network = NetworkLabel(r.remote_addr);
    risk.network_changed = report->network_changed ||
                           (last.ok() && !last->empty() && !last->front().network.empty() &&
                            last->front().network != network);
  }
  // R-FLOW-REG-4 / AUT-4 / DER-4, R-SRV-DL-1..3.
  const Decision d = Decide(deps_.policy, risk);
  ctx->state["device_type"] = device_type;
  ctx->state["platform"] = report->platform + "/" + report->os_version + "/" + report->app_version;
  ctx->state["tier"] = std::string(RiskTierName(d.tier));
  ctx->state["score"] = d.score;
  ctx->state["reasons"] = d.reasons;
  ctx->state["biometric_type"] = d.biometric_type;
  ctx->state["settings"] = SettingsJson(d.settings);
  ctx->state["recaptures_left"] = d.settings.max_recaptures;
  std::string scripted_file;
  auto proc = IssueChallenge(ctx->state, deps_.judgement_policy, deps_.challenge_source,
                             deps_.scripted_challenges_dir, deps_.limits, NowMs(), &scripted_file);
  if (!proc.ok()) return Refuse(proc.status(), op, r, account, flow_id);
  Result<crypto::Bytes> wire = Status::Internal("seal.unset", "");
  {
    StepTimer t(timings_.crypto_ns);
    const std::string body = protocol::ToJson(*proc);
    wire = protocol::SealToWire(*channel, crypto::AsBytes(body));
    if (!wire.ok()) return Refuse(wire.status(), op, r, account, flow_id);
    ctx->state["channel"] = B64(channel->Serialize());
  }
  auto sealed = SealFlowState(flow_id, ctx->state);
  if (!sealed.ok()) return Refuse(sealed.status(), op, r, account, flow_id);
  ctx->row.channel_state = std::move(sealed).value();
  ctx->row.challenge_json = ctx->state["challenge"].get<std::string>();
  ctx->row.step = kStepChallenge;
  {
    StepTimer t(timings_.database_ns);
    auto v = deps_.store->UpdateFlow(ctx->row);
    if (!v.ok()) return Refuse(v.status(), op, r, account, flow_id);
  }
  // The decision and its reason codes go to the audit log (R-SRV-DL, 11.3).
  AuditEvent e{"server", op, account, device_id, flow_id, "ok", d.reasons, r.remote_addr};
  e.reasons.push_back("asd." + std::string(AsdTypeName(d.settings.asd_type)));
  Audit(e);
  if (!scripted_file.empty()) {
    Audit({"server", op + ".scripted_challenge", account, device_id, flow_id, "ok",
           {"challenge.scripted", scripted_file}, r.remote_addr});
  }
  deps_.metrics->Increment("livegate_decisions_total", "tier=\"" + std::string(RiskTierName(d.tier)) + "\"");
  return SealedResponse(*wire);
}

// The capture's display report (protocol) in the judgement's terms; the
// protocol decoder already checked each colour's spelling and the order.
static std::optional<std::vector<judgement::DisplayChange>> DisplayOf(const protocol::CaptureSubmission& sub) {
  if (!sub.display) return std::nullopt;
  std::vector<judgement::DisplayChange> out;
  for (const auto& d : *sub.display) {
    judgement::DisplayChange c;
    c.t_ms = d.t_ms;
    c.lit = d.rgb != "none";
    if (c.lit) {
      const unsigned long v = std::stoul(d.rgb.substr(1), nullptr, 16);
      c.r = static_cast<std::uint8_t>(v >> 16), c.g = static_cast<std::uint8_t>(v >> 8), c.b = static_cast<std::uint8_t>(v);
    }
    out.push_back(c);
  }
  return out;
}

// The display report for the audit record: "display:<rrggbb|none>@<ms from
// the first frame>/..." in entries of at most 64 characters (the audit
// log's reason length), plus the largest offset from the challenge.
static std::vector<std::string> DisplayAuditReasons(const protocol::CaptureSubmission& sub, std::int64_t t0,
                                                    std::int64_t max_offset_ms) {
  std::vector<std::string> out;
  if (!sub.display) return out;
  std::string entry = "display:";
  for (const auto& d : *sub.display) {
    const std::string item = (d.rgb == "none" ? std::string("none") : d.rgb.substr(1)) + "@" +
                             std::to_string(d.t_ms - t0);
    if (entry.size() > 8 && entry.size() + 1 + item.size() > 64) {
      out.push_back(entry);
      entry = "display:";
    }
    entry += (entry.size() > 8 ? "/" : "") + item;
  }
  if (entry.size() > 8) out.push_back(entry);
  out.push_back("display.max_offset_ms:" + std::to_string(max_offset_ms));
  return out;
}

// ----------------------------------------- 8-11. capture -> judgement

ApiResponse Service::CaptureStep(const ApiRequest& r) {
  const std::string& flow_id = r.captures.at(0);
  std::string op = "flow.capture";
  if (auto st = CheckRate(per_address_, r.remote_addr, "address"); !st.ok()) return Refuse(st, op, r);
  auto ctx = LoadFlow(flow_id);
  if (!ctx.ok()) return Refuse(ctx.status(), op, r, "", flow_id);
  op = "flow." + ctx->row.flow_type + ".capture";
  const std::string account = ctx->row.account_id;
  const std::string device_id = ctx->state.value("device_id", "");
  const std::string device_type = ctx->state.value("device_type", "");
  if (ctx->row.step != kStepChallenge) return Refuse(CaptureNotAccepted(), op, r, account, flow_id);
  // Decision 11.9 at every step (R-SEC-SRV-1), before the face is judged:
  // a locked account id gets no biometric comparison either.
  if (auto st = CheckNotLockedOut(account); !st.ok()) return Refuse(st, op, r, account, flow_id);
  auto opened = OpenSealedStep(ctx->state.at("channel"), r.body);
  if (!opened.ok()) return Refuse(opened.status(), op, r, account, flow_id);
  crypto::SealedChannel* channel = &opened->channel;
  const crypto::Bytes* plain = &opened->plain;
  protocol::MessageLimits ml;
  ml.max_frames = static_cast<std::size_t>(deps_.limits.max_frames);
  ml.max_frame_bytes = deps_.limits.max_frame_bytes;
  ml.max_message_bytes = deps_.limits.max_body_bytes;
  // R-FLOW-REG-8 / AUT-8 / DER-8: the sealed capture package.
  auto sub = protocol::ParseCaptureSubmission(
      std::string_view(reinterpret_cast<const char*>(plain->data()), plain->size()), ml);
  if (!sub.ok()) return Refuse(sub.status(), op, r, account, flow_id);

  // Challenge lifetime and binding (R-FLOW-X2, R-SEC-SRV-3).
  if (NowMs() > ctx->state.at("challenge_expires_ms").get<std::int64_t>()) {
    return Refuse(Status(StatusCode::kExpired, "challenge.expired",
                         "the challenge has expired; start again"),
                  op, r, account, flow_id);
  }
  auto challenge = judgement::ChallengeFromJson(ctx->state.at("challenge").get<std::string>());
  if (!challenge.ok()) return Refuse(challenge.status(), op, r, account, flow_id);
  const crypto::Bytes nonce = UnB64(ctx->state.at("nonce"));
  if (sub->challenge_id != challenge->id || !crypto::ConstantTimeEqual(sub->session_nonce, nonce)) {
    return Refuse(Status(StatusCode::kReplay, "flow.nonce_mismatch",
                         "the capture answers another session's challenge"),
                  op, r, account, flow_id);
  }
  // actions+light: the colours the client drew and when, checked against
  // the challenge (display.*, nothing written) before any frame is decoded;
  // the light check then judges the sequence as drawn.
  std::vector<std::int64_t> frame_times;
  for (const auto& f : sub->frames) frame_times.push_back(f.timestamp_ms);
  auto aligned = judgement::AlignDisplay(*challenge, DisplayOf(*sub), frame_times, deps_.judgement_policy);
  if (!aligned.ok()) return Refuse(aligned.status(), op, r, account, flow_id);
  const std::vector<std::string> display_audit =
      DisplayAuditReasons(*sub, frame_times.empty() ? 0 : frame_times.front(), aligned->max_offset_ms);
  std::optional<storage::Device> new_device;
  if (ctx->type == FlowType::kRegistration) {
    // R-FLOW-REG-8 / decision 11.6: the client's device credential.
    if (!sub->device_credential) {
      return Refuse(Status::BadInput("registration.device_credential_missing",
                                     "registration needs the device credential"),
                    op, r, account, flow_id);
    }
    crypto::SrpPolicy sp;
    sp.allowed_groups = deps_.srp.allowed_groups;
    sp.allowed_hashes = {deps_.srp.hash};
    if (auto st = sp.Check({sub->device_credential->srp_group, sub->device_credential->srp_hash}); !st.ok()) {
      return Refuse(st, op, r, account, flow_id);
    }
    storage::Device dev;
    dev.device_id = device_id;
    dev.account_id = account;
    dev.device_type = device_type;
    dev.srp_group = sub->device_credential->srp_group;
    dev.srp_salt = sub->device_credential->salt;
    dev.srp_verifier = sub->device_credential->verifier;
    dev.created = Now();
    dev.last_seen = dev.created;
    new_device = std::move(dev);
  }
  // Decode the frames with limits (decision 11.8: bounded resolution).
  judgement::Capture capture;
  vision::ImageLimits il;
  il.max_bytes = deps_.limits.max_frame_bytes;
  il.max_pixels = static_cast<std::uint64_t>(deps_.limits.max_frame_side) * deps_.limits.max_frame_side;
  // Frames the judgement will not analyse (inside a blink window, closer
  // than any held camera delivers: judgement/capture_rate.h) are not
  // decoded either (issue 16: cost per authentication). frame_times: above.
  const std::vector<judgement::FrameRole> roles =
      judgement::PlanFrameRoles(frame_times, *challenge, deps_.judgement_policy.challenge.window_slack_ms,
                                deps_.judgement_policy.capture.sparse_grid_gap_ms);
  for (std::size_t i = 0; i < sub->frames.size(); ++i) {
    if (roles[i] == judgement::FrameRole::kSkipped) {
      capture.frames.push_back({sub->frames[i].timestamp_ms, cv::Mat()});
      continue;
    }
    auto img = vision::DecodeImage(sub->frames[i].jpeg, il);
    if (!img.ok()) return Refuse(img.status(), op, r, account, flow_id);
    if (img->cols > deps_.limits.max_frame_side || img->rows > deps_.limits.max_frame_side) {
      return Refuse(Status::TooLarge("capture.frame_too_large",
                                     "a frame exceeds the maximum side of " +
                                         std::to_string(deps_.limits.max_frame_side) + " pixels"),
                    op, r, account, flow_id);
    }
    capture.frames.push_back({sub->frames[i].timestamp_ms, std::move(img).value()});
  }
  sub->frames.clear();
  if (deps_.analyzers == nullptr) {
    return Refuse(Status(StatusCode::kUnavailable, "vision.unavailable", "face analysis is not available"),
                  op, r, account, flow_id);
  }
  // R-SEC-SRV-1: the flow is taken (challenge -> judging) before the face is
  // judged, under the account id's guard and with the lockout counting the
  // checks in flight: one capture per challenge is judged, and captures
  // racing on the account id's other flows cannot carry face attempts past
  // the lockout. Until its result is written, a refusal below spends the
  // flow (the client's sealed channel is ahead of the stored one anyway).
  if (Status taken = TakeFlowForCheck(&ctx->row, kStepChallenge, kStepJudging, CaptureNotAccepted());
      !taken.ok()) {
    return Refuse(FlowStatusFromStorage(taken), op, r, account, flow_id);
  }
  bool result_written = false;
  struct SpendUnlessWritten {
    Service* service;
    const storage::FlowState* row;
    const bool* written;
    ~SpendUnlessWritten() {
      if (!*written) service->SpendFlow(*row);
    }
  } spend_unless_written{this, &ctx->row, &result_written};
  // R-FLOW-REG-9 / AUT-9 / DER-9 with R-FLOW-X1: quality judgement, then
  // anti-spoofing judgement; the server extracts the descriptor itself.
  const TierSettings settings = SettingsFromJson(ctx->state.at("settings"));
  const judgement::Policy jp = TierJudgementPolicy(deps_.judgement_policy, settings);
  Result<JudgedCapture> judged = Status::Internal("judge.unset", "");
  {
    StepTimer t(timings_.vision_ns);
    judged = JudgeCaptureWithPool(*deps_.analyzers, aligned->drawn, capture, jp, settings.min_quality * 100.0);
  }
  capture.frames.clear();  // frames are discarded after judgement (11.4)
  if (!judged.ok()) return Refuse(judged.status(), op, r, account, flow_id);

  std::vector<std::string> reasons;
  std::string outcome;
  std::string message;
  std::optional<protocol::Procedure> next;
  bool success = false;
  bool terminal = true;
  // Decision 11.10: the client's verdict only raises risk when it disagrees.
  const bool mismatch = sub->client.live != judged->liveness.live;
  std::optional<float> distance;
  std::optional<double> compare_threshold;
  std::string compare_kind;
  storage::Template probe{};
  if (judged->descriptor) std::copy(judged->descriptor->begin(), judged->descriptor->end(), probe.begin());

  if (!judged->quality.accepted || !judged->descriptor) {
    // R-SRV-QJ-2 / R-FLOW-X1: back to step 5 with a new challenge.
    reasons.push_back(judged->quality.reason.empty() ? "quality.failed" : judged->quality.reason);
    for (const auto& m : judged->quality.failed_measures) reasons.push_back("quality.measure." + m);
    const int left = ctx->state.value("recaptures_left", 0);
    if (left > 0) {
      ctx->state["recaptures_left"] = left - 1;
      std::string scripted_file;
      auto proc = IssueChallenge(ctx->state, deps_.judgement_policy, deps_.challenge_source,
                                 deps_.scripted_challenges_dir, deps_.limits, NowMs(), &scripted_file);
      if (!proc.ok()) return Refuse(proc.status(), op, r, account, flow_id);
      if (!scripted_file.empty()) {
        Audit({"server", op + ".scripted_challenge", account, device_id, flow_id, "ok",
               {"challenge.scripted", scripted_file}, r.remote_addr});
      }
      next = std::move(proc).value();
      outcome = "recapture";
      message = "The picture quality was not good enough; please follow the new instructions.";
      terminal = false;
    } else {
      outcome = "refused";
      reasons.push_back("quality.recaptures_exhausted");
      message = "The picture quality was not good enough, and no retries are left.";
    }
  } else if (!judged->liveness.live) {
    // R-SRV-ASJ-1/2: not live. The specific check goes to the audit log only.
    outcome = "refused";
    reasons.push_back("asd.not_live");
    message = "We could not confirm a live person in front of the camera.";
  } else if (ctx->type == FlowType::kRegistration) {
    success = true;
    outcome = "registered";
    message = "Face registration succeeded.";
  } else {
    // R-FLOW-AUT-9 / DER-9, R-SRV-CMP-1: compare in the protected domain.
    StepTimer t(timings_.database_ns);
    auto cmp = protector_->PrepareComparison(*deps_.store, account, device_type, probe);
    if (!cmp.ok()) return Refuse(cmp.status(), op, r, account, flow_id);
    distance = Distance(cmp->reference, cmp->probe);
    // The probe is always a fused live template; the reference is one too
    // when it was enrolled live ("capture"), else a batch-imported photo
    // template: each pairing has its own threshold (R-SRV-CMP-1 "score
    // against a threshold policy"; issue 14, docs/EVALUATION.md
    // "Multi-frame templates in the server").
    const bool live_reference = cmp->source == "capture";
    compare_threshold = live_reference ? settings.live_compare_threshold : settings.batch_compare_threshold;
    compare_kind = live_reference ? "live" : "batch";
    if (*distance <= *compare_threshold) {
      success = true;
      outcome = ctx->type == FlowType::kAuthentication ? "authenticated" : "deregistered";
      message = ctx->type == FlowType::kAuthentication ? "Authentication succeeded."
                                                        : "Your face data has been deleted.";
    } else {
      outcome = "refused";
      reasons.push_back("biometric.not_verified");
      message = "The face did not match the registered one.";
    }
  }
  std::vector<std::string> audit_reasons = reasons;
  audit_reasons.push_back(judged->liveness.reason);
  if (mismatch) audit_reasons.push_back("client.mismatch");
  if (judged->descriptor) audit_reasons.push_back("template.frames:" + std::to_string(judged->descriptor_frames));
  if (distance) audit_reasons.push_back("compare.distance:" + std::to_string(*distance));
  if (compare_threshold) {
    audit_reasons.push_back("compare.threshold:" + compare_kind + ":" + std::to_string(*compare_threshold));
  }
  audit_reasons.insert(audit_reasons.end(), display_audit.begin(), display_audit.end());

  // Seal the answer first: the channel state is part of what is written.
  protocol::FlowResult fr{outcome, reasons, message, next};
  Result<crypto::Bytes> wire = Status::Internal("seal.unset", "");
  {
    StepTimer t(timings_.crypto_ns);
    wire = protocol::SealToWire(*channel, crypto::AsBytes(protocol::ToJson(fr)));
    if (!wire.ok()) return Refuse(wire.status(), op, r, account, flow_id);
    ctx->state["channel"] = B64(channel->Serialize());
  }
  auto sealed_state = SealFlowState(flow_id, ctx->state);
  if (!sealed_state.ok()) return Refuse(sealed_state.status(), op, r, account, flow_id);
  ctx->row.channel_state = std::move(sealed_state).value();
  ctx->row.challenge_json = ctx->state.at("challenge").get<std::string>();
  ctx->row.step = terminal ? kStepDone : kStepChallenge;
  const auto at = Now();
  const auto nonce_expiry = at + std::chrono::seconds(deps_.limits.flow_lifetime_seconds);
  const std::string nonce_text = crypto::HexEncode(nonce);
  const std::string flow_type = ctx->row.flow_type;
  const std::string network = NetworkLabel(r.remote_addr);

  // One transaction per outcome: either the whole result is in the database
  // or none of it (crash test: tests/server/integration_crash_test.cc).
  auto fault = [this](const char* point) {
    if (deps_.fault_hook) deps_.fault_hook(point);
  };
  Status st;
  {
    StepTimer t(timings_.database_ns);
    st = deps_.store->Transact([&](storage::StoreOps& ops) -> Status {
      LG_RETURN_IF_ERROR(ops.UpdateFlow(ctx->row).status());  // CAS: one answer per capture
      fault("capture.after_flow_update");
      LG_RETURN_IF_ERROR(ops.ConsumeNonce("capture", nonce_text, nonce_expiry));  // single use
      if (terminal) LG_RETURN_IF_ERROR(ops.DeleteFlow(flow_id));
      storage::RiskEvent ev;
      ev.account_id = account;
      ev.device_id = device_id;
      ev.event_type = flow_type;
      ev.success = success;
      ev.network = network;
      ev.platform = ctx->state.value("platform", "");
      ev.reason_codes = Join(audit_reasons);
      ev.at = at;
      if (!terminal) return Status::Ok();  // a re-capture is neither success nor failure
      LG_RETURN_IF_ERROR(ops.AppendRiskEvent(ev));
      if (!success) {
        // The failure event above is what the lockout counts (11.9,
        // Service::LockedUntil); the counter is the admin view's.
        LG_RETURN_IF_ERROR(ops.RecordAccountFailure(account).status());
        return Status::Ok();
      }
      switch (ctx->type) {
        case FlowType::kRegistration: {
          // R-FLOW-REG-9/10: bind to the account, protect, store per device
          // type together with the device credential (decision 11.6).
          auto existing = ops.GetDevice(device_id);
          if (existing.ok()) {
            if (existing->account_id != account) {
              return Status(StatusCode::kAlreadyExists, "registration.device_taken",
                            "this device id belongs to another account");
            }
            LG_RETURN_IF_ERROR(ops.DeleteDevice(device_id));
          }
          LG_RETURN_IF_ERROR(ops.PutDevice(*new_device));
          fault("capture.after_device");
          LG_RETURN_IF_ERROR(protector_->Enroll(ops, account, device_type, probe, "capture"));
          fault("capture.after_enroll");
          break;
        }
        case FlowType::kAuthentication:
          LG_RETURN_IF_ERROR(ops.TouchDevice(device_id, at));
          break;
        case FlowType::kDeregistration:
          // R-FLOW-DER-10, decision 11.11: references, device credentials and
          // the data key, all at once (crypto-shredding).
          LG_RETURN_IF_ERROR(ops.DeleteUserBiometrics(account));
          fault("capture.after_shred");
          break;
      }
      LG_RETURN_IF_ERROR(ops.RecordAccountSuccess(account, at));
      fault("capture.before_commit");
      return Status::Ok();
    });
  }
  fault("capture.after_commit");
  if (!st.ok()) return Refuse(st, op, r, account, flow_id);
  result_written = true;
  Audit({"client", op, account, device_id, flow_id, outcome, audit_reasons, r.remote_addr});
  deps_.metrics->Increment("livegate_flow_outcomes_total",
                           "flow=\"" + flow_type + "\",outcome=\"" + outcome + "\"");
  return SealedResponse(*wire);  // R-FLOW-REG-11 / AUT-10 / DER-11
}

}  // namespace livegate::server
