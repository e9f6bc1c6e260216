#include "protocol/messages.h"

#include "crypto/kdf.h"
#include "protocol/codec.h"

namespace livegate::protocol {

using nlohmann::json;
using crypto::Base64UrlEncode;

std::string_view FlowTypeName(FlowType type) {
  switch (type) {
    case FlowType::kRegistration: return "registration";
    case FlowType::kAuthentication: return "authentication";
    case FlowType::kDeregistration: return "deregistration";
  }
  return "unknown";
}

std::optional<FlowType> ParseFlowType(std::string_view name) {
  if (name == "registration") return FlowType::kRegistration;
  if (name == "authentication") return FlowType::kAuthentication;
  if (name == "deregistration") return FlowType::kDeregistration;
  return std::nullopt;
}

namespace {

constexpr std::size_t kMaxSrpBytes = 1024;  // 8192-bit group

// Identifiers: printable, no spaces or quotes, so they are safe in logs,
// audit records and labels.
Status CheckId(const std::string& id, const char* field) {
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '@' || c == ':';
    if (!ok) {
      return Status::BadInput("message.bad_id", std::string(field) +
                                                    " may hold only letters, digits and . _ - @ :");
    }
  }
  return Status::Ok();
}

JsonLimits Limits(const MessageLimits& l) {
  JsonLimits j;
  j.max_bytes = l.max_message_bytes;
  j.max_depth = 8;
  return j;
}

Result<std::vector<std::string>> StringArray(ObjectReader& r, std::string_view key,
                                             std::size_t max_items, std::size_t max_len) {
  LG_ASSIGN_OR_RETURN(const json* arr, r.Array(key, max_items));
  std::vector<std::string> out;
  for (const auto& e : *arr) {
    if (!e.is_string() || e.get_ref<const std::string&>().empty() ||
        e.get_ref<const std::string&>().size() > max_len) {
      return Status::BadInput("codec.wrong_type", r.path() + "." + std::string(key) +
                                                      " must hold non-empty short strings");
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

// "#rrggbb" in lower case (the challenge's own spelling) or "none".
bool IsDisplayColour(const std::string& s) {
  if (s == "none") return true;
  if (s.size() != 7 || s[0] != '#') return false;
  for (std::size_t i = 1; i < 7; ++i) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

// The display changes of a light capture: each {t_ms, rgb}, times strictly
// increasing (a change per entry, in the order drawn). The count is bounded
// by the caller's Array(max_display_changes).
Result<std::vector<DisplayChangeMessage>> ReadDisplayChanges(const json& arr) {
  std::vector<DisplayChangeMessage> out;
  out.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string path = "capture.display[" + std::to_string(i) + "]";
    ObjectReader d(arr[i], path);
    DisplayChangeMessage c;
    LG_ASSIGN_OR_RETURN(c.t_ms, d.Integer("t_ms", -(1ll << 50), 1ll << 50));
    LG_ASSIGN_OR_RETURN(c.rgb, d.String("rgb", 4, 7));
    LG_RETURN_IF_ERROR(d.Finish());
    if (!IsDisplayColour(c.rgb)) {
      return Status::BadInput("display.bad_colour", path + ".rgb must be \"#rrggbb\" (lower case) or \"none\"");
    }
    if (!out.empty() && c.t_ms <= out.back().t_ms) {
      return Status::BadInput("display.not_in_order", path + ".t_ms is not after the previous change");
    }
    out.push_back(std::move(c));
  }
  return out;
}

json ProcedureJson(const Procedure& m) {
  return json{{"biometric_type", m.biometric_type},
              {"asd_type", m.asd_type},
              {"tier", m.tier},
              {"reasons", m.reasons},
              {"challenge", m.challenge},
              {"session_nonce", Base64UrlEncode(m.session_nonce)},
              {"challenge_expires_at_ms", m.challenge_expires_at_ms},
              {"recaptures_left", m.recaptures_left},
              {"max_frames", m.max_frames},
              {"max_frame_side", m.max_frame_side},
              {"max_frame_bytes", m.max_frame_bytes}};
}

Result<Procedure> ReadProcedure(const json& doc, const std::string& path) {
  ObjectReader r(doc, path);
  Procedure m;
  LG_ASSIGN_OR_RETURN(m.biometric_type, r.Enum("biometric_type", {"face"}));
  LG_ASSIGN_OR_RETURN(m.asd_type, r.Enum("asd_type", {"passive", "actions", "actions+light"}));
  LG_ASSIGN_OR_RETURN(m.tier, r.Enum("tier", {"low", "medium", "high"}));
  LG_ASSIGN_OR_RETURN(m.reasons, StringArray(r, "reasons", 64, 128));
  LG_ASSIGN_OR_RETURN(const json* ch, r.Object("challenge"));
  m.challenge = *ch;
  LG_ASSIGN_OR_RETURN(m.session_nonce, r.Base64Url("session_nonce", 16, 16));
  LG_ASSIGN_OR_RETURN(m.challenge_expires_at_ms,
                      r.Integer("challenge_expires_at_ms", 0, INT64_MAX));
  LG_ASSIGN_OR_RETURN(auto left, r.Integer("recaptures_left", 0, 1000));
  LG_ASSIGN_OR_RETURN(auto frames, r.Integer("max_frames", 0, 100000));
  LG_ASSIGN_OR_RETURN(auto side, r.Integer("max_frame_side", 0, 100000));
  LG_ASSIGN_OR_RETURN(auto bytes, r.Integer("max_frame_bytes", 0, INT64_MAX));
  m.recaptures_left = static_cast<int>(left);
  m.max_frames = static_cast<int>(frames);
  m.max_frame_side = static_cast<int>(side);
  m.max_frame_bytes = static_cast<std::size_t>(bytes);
  LG_RETURN_IF_ERROR(r.Finish());
  return m;
}

}  // namespace

std::string ToJson(const StartFlowRequest& m) {
  json j{{"flow", FlowTypeName(m.flow)}, {"account_id", m.account_id}};
  if (!m.device_id.empty()) j["device_id"] = m.device_id;
  return j.dump();
}

std::string ToJson(const StartFlowResponse& m) {
  return json{{"flow_id", m.flow_id},
              {"srp", {{"group", m.srp_group}, {"hash", m.srp_hash},
                       {"salt", Base64UrlEncode(m.salt)}, {"B", Base64UrlEncode(m.B)}}},
              {"channel", {{"channel_id", Base64UrlEncode(m.channel_id)},
                           {"server_nonce", Base64UrlEncode(m.server_nonce)}}},
              {"expires_at_ms", m.expires_at_ms}}
      .dump();
}

std::string ToJson(const VerifyRequest& m) {
  return json{{"A", Base64UrlEncode(m.A)}, {"M1", Base64UrlEncode(m.M1)}}.dump();
}

std::string ToJson(const VerifyResponse& m) {
  return json{{"M2", Base64UrlEncode(m.M2)}}.dump();
}

std::string ToJson(const RiskReport& m) {
  return json{{"device_type", m.device_type},     {"platform", m.platform},
              {"os_version", m.os_version},       {"app_version", m.app_version},
              {"integrity_flags", m.integrity_flags}, {"network_changed", m.network_changed}}
      .dump();
}

std::string ToJson(const Procedure& m) { return ProcedureJson(m).dump(); }

std::string ToJson(const CaptureSubmission& m) {
  json frames = json::array();
  for (const auto& f : m.frames) {
    frames.push_back({{"t_ms", f.timestamp_ms}, {"jpeg", Base64UrlEncode(f.jpeg)}});
  }
  json j{{"challenge_id", m.challenge_id},
         {"session_nonce", Base64UrlEncode(m.session_nonce)},
         {"frames", frames},
         {"client", {{"live", m.client.live},
                     {"quality", m.client.quality},
                     {"best_frame", m.client.best_frame},
                     {"actions_detected", m.client.actions_detected}}}};
  if (m.display) {
    json display = json::array();
    for (const auto& d : *m.display) display.push_back({{"t_ms", d.t_ms}, {"rgb", d.rgb}});
    j["display"] = std::move(display);
  }
  if (m.device_credential) {
    const auto& d = *m.device_credential;
    j["device_credential"] = {{"srp_group", d.srp_group}, {"srp_hash", d.srp_hash},
                              {"salt", Base64UrlEncode(d.salt)},
                              {"verifier", Base64UrlEncode(d.verifier)}};
  }
  return j.dump();
}

std::string ToJson(const FlowResult& m) {
  json j{{"outcome", m.outcome}, {"reasons", m.reasons}, {"message", m.message}};
  if (m.next) j["next"] = ProcedureJson(*m.next);
  return j.dump();
}

Result<StartFlowRequest> ParseStartFlowRequest(std::string_view text, const MessageLimits& l) {
  LG_ASSIGN_OR_RETURN(auto doc, ParseJsonObject(text, Limits(l)));
  ObjectReader r(doc, "start");
  StartFlowRequest m;
  LG_ASSIGN_OR_RETURN(auto flow,
                      r.Enum("flow", {"registration", "authentication", "deregistration"}));
  m.flow = *ParseFlowType(flow);
  LG_ASSIGN_OR_RETURN(m.account_id, r.String("account_id", 1, l.max_id_length));
  LG_RETURN_IF_ERROR(CheckId(m.account_id, "start.account_id"));
  LG_ASSIGN_OR_RETURN(auto device, r.OptionalString("device_id", 1, l.max_id_length));
  if (device) {
    m.device_id = *device;
    LG_RETURN_IF_ERROR(CheckId(m.device_id, "start.device_id"));
  }
  LG_RETURN_IF_ERROR(r.Finish());
  if (m.device_id.empty() && m.flow != FlowType::kDeregistration) {
    return Status::BadInput("codec.missing_field",
                            "start.device_id is required for registration and authentication");
  }
  return m;
}

Result<StartFlowResponse> ParseStartFlowResponse(std::string_view text, const MessageLimits& l) {
  LG_ASSIGN_OR_RETURN(auto doc, ParseJsonObject(text, Limits(l)));
  ObjectReader r(doc, "start_response");
  StartFlowResponse m;
  LG_ASSIGN_OR_RETURN(m.flow_id, r.String("flow_id", 32, 32));
  LG_ASSIGN_OR_RETURN(const json* srp, r.Object("srp"));
  LG_ASSIGN_OR_RETURN(const json* ch, r.Object("channel"));
  LG_ASSIGN_OR_RETURN(m.expires_at_ms, r.Integer("expires_at_ms", 0, INT64_MAX));
  LG_RETURN_IF_ERROR(r.Finish());
  ObjectReader s(*srp, "start_response.srp");
  LG_ASSIGN_OR_RETURN(m.srp_group, s.String("group", 1, 64));
  LG_ASSIGN_OR_RETURN(m.srp_hash, s.String("hash", 1, 32));
  LG_ASSIGN_OR_RETURN(m.salt, s.Base64Url("salt", 64, 16));
  LG_ASSIGN_OR_RETURN(m.B, s.Base64Url("B", kMaxSrpBytes, 1));
  LG_RETURN_IF_ERROR(s.Finish());
  ObjectReader c(*ch, "start_response.channel");
  LG_ASSIGN_OR_RETURN(m.channel_id, c.Base64Url("channel_id", 16, 16));
  LG_ASSIGN_OR_RETURN(m.server_nonce, c.Base64Url("server_nonce", 16, 16));
  LG_RETURN_IF_ERROR(c.Finish());
  return m;
}

Result<VerifyRequest> ParseVerifyRequest(std::string_view text, const MessageLimits& l) {
  LG_ASSIGN_OR_RETURN(auto doc, ParseJsonObject(text, Limits(l)));
  ObjectReader r(doc, "verify");
  VerifyRequest m;
  LG_ASSIGN_OR_RETURN(m.A, r.Base64Url("A", kMaxSrpBytes, 1));
  LG_ASSIGN_OR_RETURN(m.M1, r.Base64Url("M1", 64, 20));
  LG_RETURN_IF_ERROR(r.Finish());
  return m;
}

Result<VerifyResponse> ParseVerifyResponse(std::string_view text, const MessageLimits& l) {
  LG_ASSIGN_OR_RETURN(auto doc, ParseJsonObject(text, Limits(l)));
  ObjectReader r(doc, "verify_response");
  VerifyResponse m;
  LG_ASSIGN_OR_RETURN(m.M2, r.Base64Url("M2", 64, 20));
  LG_RETURN_IF_ERROR(r.Finish());
  return m;
}

Result<RiskReport> ParseRiskReport(std::string_view text, const MessageLimits& l) {
  LG_ASSIGN_OR_RETURN(auto doc, ParseJsonObject(text, Limits(l)));
  ObjectReader r(doc, "risk");
  RiskReport m;
  LG_ASSIGN_OR_RETURN(m.device_type, r.String("device_type", 1, l.max_id_length));
  LG_RETURN_IF_ERROR(CheckId(m.device_type, "risk.device_type"));
  LG_ASSIGN_OR_RETURN(m.platform, r.String("platform", 1, 32));
  LG_ASSIGN_OR_RETURN(m.os_version, r.String("os_version", 0, 32));
  LG_ASSIGN_OR_RETURN(m.app_version, r.String("app_version", 0, 32));
  LG_ASSIGN_OR_RETURN(m.integrity_flags, StringArray(r, "integrity_flags", 32, 64));
  LG_ASSIGN_OR_RETURN(m.network_changed, r.Bool("network_changed"));
  LG_RETURN_IF_ERROR(r.Finish());
  return m;
}

Result<Procedure> ParseProcedure(std::string_view text, const MessageLimits& l) {
  LG_ASSIGN_OR_RETURN(auto doc, ParseJsonObject(text, Limits(l)));
  return ReadProcedure(doc, "procedure");
}

Result<CaptureSubmission> ParseCaptureSubmission(std::string_view text, const MessageLimits& l) {
  LG_ASSIGN_OR_RETURN(auto doc, ParseJsonObject(text, Limits(l)));
  ObjectReader r(doc, "capture");
  CaptureSubmission m;
  LG_ASSIGN_OR_RETURN(m.challenge_id, r.String("challenge_id", 1, 64));
  LG_ASSIGN_OR_RETURN(m.session_nonce, r.Base64Url("session_nonce", 16, 16));
  LG_ASSIGN_OR_RETURN(const json* frames, r.Array("frames", l.max_frames));
  LG_ASSIGN_OR_RETURN(const json* client, r.Object("client"));
  const json* cred = nullptr;
  if (doc.contains("device_credential")) {
    LG_ASSIGN_OR_RETURN(cred, r.Object("device_credential"));
  }
  const json* display = nullptr;
  if (doc.contains("display")) {
    LG_ASSIGN_OR_RETURN(display, r.Array("display", l.max_display_changes));
  }
  LG_RETURN_IF_ERROR(r.Finish());
  if (cred != nullptr) {
    ObjectReader d(*cred, "capture.device_credential");
    DeviceCredential dc;
    LG_ASSIGN_OR_RETURN(dc.srp_group, d.String("srp_group", 1, 64));
    LG_ASSIGN_OR_RETURN(dc.srp_hash, d.String("srp_hash", 1, 32));
    LG_ASSIGN_OR_RETURN(dc.salt, d.Base64Url("salt", 64, 16));
    LG_ASSIGN_OR_RETURN(dc.verifier, d.Base64Url("verifier", kMaxSrpBytes, 1));
    LG_RETURN_IF_ERROR(d.Finish());
    m.device_credential = std::move(dc);
  }
  for (std::size_t i = 0; i < frames->size(); ++i) {
    ObjectReader f((*frames)[i], "capture.frames[" + std::to_string(i) + "]");
    CaptureFrameMessage fm;
    LG_ASSIGN_OR_RETURN(fm.timestamp_ms, f.Integer("t_ms", -(1ll << 50), 1ll << 50));
    LG_ASSIGN_OR_RETURN(fm.jpeg, f.Base64Url("jpeg", l.max_frame_bytes, 1));
    LG_RETURN_IF_ERROR(f.Finish());
    // Frames are JPEG only (docs/API.md; issue 12, finding 8): judged on the
    // magic bytes (SOI + a marker), before any decoder sees them.
    if (fm.jpeg.size() < 3 || fm.jpeg[0] != 0xFF || fm.jpeg[1] != 0xD8 || fm.jpeg[2] != 0xFF) {
      return Status::BadInput("image.format_not_allowed",
                              "capture.frames[" + std::to_string(i) +
                                  "].jpeg is not a JPEG image (frames must be JPEG)");
    }
    m.frames.push_back(std::move(fm));
  }
  if (display != nullptr) {
    LG_ASSIGN_OR_RETURN(auto changes, ReadDisplayChanges(*display));
    m.display = std::move(changes);
  }
  ObjectReader c(*client, "capture.client");
  LG_ASSIGN_OR_RETURN(m.client.live, c.Bool("live"));
  LG_ASSIGN_OR_RETURN(m.client.quality, c.Number("quality", 0.0, 1.0));
  LG_ASSIGN_OR_RETURN(auto best, c.Integer("best_frame", -1, 100000));
  m.client.best_frame = static_cast<int>(best);
  LG_ASSIGN_OR_RETURN(m.client.actions_detected, StringArray(c, "actions_detected", 16, 32));
  LG_RETURN_IF_ERROR(c.Finish());
  return m;
}

Result<FlowResult> ParseFlowResult(std::string_view text, const MessageLimits& l) {
  LG_ASSIGN_OR_RETURN(auto doc, ParseJsonObject(text, Limits(l)));
  ObjectReader r(doc, "result");
  FlowResult m;
  LG_ASSIGN_OR_RETURN(m.outcome, r.Enum("outcome", {"registered", "authenticated", "deregistered",
                                                    "recapture", "refused"}));
  LG_ASSIGN_OR_RETURN(m.reasons, StringArray(r, "reasons", 64, 128));
  LG_ASSIGN_OR_RETURN(m.message, r.String("message", 0, 1024));
  if (doc.contains("next")) {
    LG_ASSIGN_OR_RETURN(const json* next, r.Object("next"));
    LG_ASSIGN_OR_RETURN(auto p, ReadProcedure(*next, "result.next"));
    m.next = std::move(p);
  }
  LG_RETURN_IF_ERROR(r.Finish());
  return m;
}

}  // namespace livegate::protocol
