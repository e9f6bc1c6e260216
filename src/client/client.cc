// The client side of the three flows (X.1279 clause 8.1: R-FLOW-REG-1..12,
// R-FLOW-AUT-1..11, R-FLOW-DER-1..12) over the API of docs/API.md, with the
// client functions of clause 7.2 (capture_session.h) and device security
// management (secret_store.h, pinning.h; R-CLI-SM-1).
#include "livegate/client.h"

#include <sys/utsname.h>

#include <algorithm>
#include <chrono>

#include "client/capture.h"
#include "client/capture_session.h"
#include "client/https_client.h"
#include "client/package.h"
#include "client/pinning.h"
#include "client/secret_store.h"
#include "crypto/kdf.h"
#include "crypto/sealed_channel.h"
#include "crypto/srp6a.h"
#include "judgement/judgement.h"
#include "protocol/envelope.h"
#include "protocol/messages.h"
#include "vision/face_analyzer.h"

namespace livegate {
namespace {

using client::CaptureOptions;
using protocol::FlowType;

const char* StepPrefix(FlowType t) {
  switch (t) {
    case FlowType::kRegistration: return "R-FLOW-REG-";
    case FlowType::kAuthentication: return "R-FLOW-AUT-";
    case FlowType::kDeregistration: return "R-FLOW-DER-";
  }
  return "";
}

// The last step numbers differ per flow (REG has 12, AUT 11, DER 12).
struct StepNumbers {
  int server_judges, result, inform;
};
StepNumbers Steps(FlowType t) {
  switch (t) {
    case FlowType::kRegistration: return {9, 11, 12};
    case FlowType::kAuthentication: return {9, 10, 11};
    case FlowType::kDeregistration: return {9, 11, 12};
  }
  return {9, 11, 12};
}

std::string OsRelease() {
  struct utsname u{};
  if (::uname(&u) != 0) return "0";
  std::string r = u.release;
  // "6.1.0-18-amd64" -> "6.1.0": the dotted numeric prefix.
  std::size_t end = 0;
  while (end < r.size() && (std::isdigit(static_cast<unsigned char>(r[end])) || r[end] == '.')) ++end;
  return end ? r.substr(0, end) : "0";
}

CaptureOptions ToCaptureOptions(const CaptureSource& s) {
  CaptureOptions o;
  switch (s.kind) {
    case CaptureSource::Kind::kCamera: o.kind = CaptureOptions::Kind::kCamera; break;
    case CaptureSource::Kind::kVideoFile: o.kind = CaptureOptions::Kind::kVideoFile; break;
    case CaptureSource::Kind::kImageSequence: o.kind = CaptureOptions::Kind::kImageSequence; break;
  }
  o.camera_index = s.camera_index;
  o.path = s.path;
  for (const auto& i : s.images) o.images.emplace_back(i);
  o.start_frame = s.start_frame;
  o.end_frame = s.end_frame;
  o.image_sequence_fps = s.image_sequence_fps;
  return o;
}

// A non-200 answer: {"error":{"reason":..., "message":...}}.
Status ServerError(const client::HttpResponse& r) {
  std::string reason = "server.http_" + std::to_string(r.status), message = r.body.substr(0, 200);
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    reason = j["error"].value("reason", reason);
    message = j["error"].value("message", message);
  }
  StatusCode code = StatusCode::kInternal;
  switch (r.status) {
    case 400: code = StatusCode::kBadInput; break;
    case 401: code = StatusCode::kUnauthenticated; break;
    case 403: code = StatusCode::kPermissionDenied; break;
    case 404: code = StatusCode::kNotFound; break;
    case 409: code = StatusCode::kFailedPrecondition; break;
    case 410: code = StatusCode::kExpired; break;
    case 413: code = StatusCode::kTooLarge; break;
    case 429: code = StatusCode::kResourceExhausted; break;
    case 503: code = StatusCode::kUnavailable; break;
    default: break;
  }
  return Status(code, reason, message);
}

// Server answers that are decisions about this person or device (not
// faults): they end the flow as "refused" rather than as an error.
bool IsRefusal(const Status& s) {
  return s.code() == StatusCode::kUnauthenticated || s.code() == StatusCode::kPermissionDenied ||
         s.code() == StatusCode::kResourceExhausted || s.code() == StatusCode::kExpired;
}

class ClientImpl final : public Client {
 public:
  ClientImpl(ClientOptions options, client::ServerAddress address)
      : options_(std::move(options)), address_(std::move(address)) {}

  Result<FlowOutcome> Register(const std::string& account, const std::string& password,
                               const CaptureSource& source, const FlowListener& listener) override {
    return Run(FlowType::kRegistration, account, password, source, listener);
  }
  Result<FlowOutcome> Authenticate(const std::string& account, const CaptureSource& source,
                                   const FlowListener& listener) override {
    return Run(FlowType::kAuthentication, account, "", source, listener);
  }
  Result<FlowOutcome> Deregister(const std::string& account, const std::string& password,
                                 const CaptureSource& source, const FlowListener& listener) override {
    return Run(FlowType::kDeregistration, account, password, source, listener);
  }

 private:
  struct Session {
    std::string flow_id;
    std::string srp_group, srp_hash;
    std::optional<crypto::SealedChannel> channel;
  };

  void Emit(const FlowListener& l, FlowType t, int step, const std::string& message) const {
    if (!l) return;
    FlowEvent e;
    e.kind = FlowEvent::Kind::kStep;
    e.step = StepPrefix(t) + std::to_string(step);
    e.message = message;
    l(e);
  }

  // Pins, stores, the TLS client and the face analyzer (lazily, once).
  Status Prepare() {
    if (https_) return Status::Ok();
    const std::filesystem::path state =
        options_.state_dir.empty() ? client::DefaultStateDir() : std::filesystem::path(options_.state_dir);
    LG_ASSIGN_OR_RETURN(auto store, client::SecretStore::Open(state));
    store_.emplace(std::move(store));
    client::TrustOptions trust_options;
    trust_options.pin_file = options_.pin_file;
    trust_options.trust_on_first_use = options_.trust_on_first_use;
    LG_ASSIGN_OR_RETURN(trust_, client::ResolveTrust(state, address_, trust_options));
    https_ = client::HttpsClient::Create(address_, trust_);
    return Status::Ok();
  }

  Status PrepareAnalyzer() {
    if (analyzer_) return Status::Ok();
    vision::AnalyzerOptions ao;
    if (!options_.model_dir.empty()) ao.model_dir = options_.model_dir;
    ao.compute_descriptor = false;  // the server extracts features itself (decision 11.4)
    LG_ASSIGN_OR_RETURN(analyzer_, vision::FaceAnalyzer::Create(ao));
    return Status::Ok();
  }

  Result<std::string> PostJson(const std::string& path, const std::string& body) {
    LG_ASSIGN_OR_RETURN(auto r, https_->Post(path, body, "application/json"));
    if (r.status != 200) return ServerError(r);
    return r.body;
  }

  // R-SEC-COM-4/5: the body travels sealed under the SRP session key.
  Result<std::string> PostSealed(Session& s, const std::string& step, const std::string& json,
                                 std::size_t* sent_bytes = nullptr) {
    LG_ASSIGN_OR_RETURN(auto wire, protocol::SealToWire(*s.channel, crypto::AsBytes(json)));
    if (sent_bytes) *sent_bytes = wire.size();
    LG_ASSIGN_OR_RETURN(auto r, https_->Post("/v1/flows/" + s.flow_id + "/" + step,
                                             std::string(wire.begin(), wire.end()),
                                             "application/octet-stream"));
    if (r.status != 200) return ServerError(r);
    LG_ASSIGN_OR_RETURN(auto plain, protocol::OpenFromWire(*s.channel, crypto::AsBytes(r.body)));
    return std::string(plain.begin(), plain.end());
  }

  // Step 2: SRP-6a round trip, then the sealed channel (decision 11.6).
  Result<Session> OpenChannel(FlowType type, const std::string& account, const std::string& device_id,
                              const std::string& identity, const std::string& password) {
    protocol::StartFlowRequest start;
    start.flow = type;
    start.account_id = account;
    start.device_id = device_id;
    LG_ASSIGN_OR_RETURN(auto start_text, PostJson("/v1/flows", protocol::ToJson(start)));
    LG_ASSIGN_OR_RETURN(auto started, protocol::ParseStartFlowResponse(start_text));
    Session s;
    s.flow_id = started.flow_id;
    s.srp_group = started.srp_group;
    s.srp_hash = started.srp_hash;
    LG_ASSIGN_OR_RETURN(auto group, crypto::SrpGroup::Create({started.srp_group, started.srp_hash}));
    LG_ASSIGN_OR_RETURN(auto srp, crypto::SrpClientSession::Respond(group, identity, password,
                                                                     started.salt, started.B));
    protocol::VerifyRequest verify{srp.A(), srp.M1()};
    LG_ASSIGN_OR_RETURN(auto verify_text,
                        PostJson("/v1/flows/" + s.flow_id + "/verify", protocol::ToJson(verify)));
    LG_ASSIGN_OR_RETURN(auto verified, protocol::ParseVerifyResponse(verify_text));
    // The server proves it knows the verifier too (mutual authentication).
    LG_RETURN_IF_ERROR(srp.VerifyServer(verified.M2));
    LG_ASSIGN_OR_RETURN(auto channel,
                        crypto::SealedChannel::Create(srp.session_key(), started.channel_id,
                                                      started.server_nonce, crypto::ChannelRole::kClient));
    s.channel.emplace(std::move(channel));
    return s;
  }

  Result<FlowOutcome> Run(FlowType type, const std::string& account, const std::string& password,
                          const CaptureSource& source, const FlowListener& listener) {
    FlowOutcome out;
    const StepNumbers steps = Steps(type);
    LG_RETURN_IF_ERROR(Prepare());
    if (trust_.newly_pinned) {
      Emit(listener, type, 2,
           "pinned the server certificate " + trust_.fingerprint + " (" + trust_.ca_file.string() + ")");
    }
    // Identity and password of the SRP exchange (decision 11.6).
    std::string device_id, identity = account, srp_password = password;
    std::optional<client::DeviceCredential> new_credential;
    if (type == FlowType::kAuthentication) {
      LG_ASSIGN_OR_RETURN(auto cred, store_->Load(options_.server_url, account));
      device_id = cred.device_id;
      identity = cred.device_id;
      srp_password = crypto::HexEncode(cred.secret);
    } else if (type == FlowType::kRegistration) {
      new_credential = client::SecretStore::Generate(options_.server_url, account);
      device_id = new_credential->device_id;
    } else if (auto cred = store_->Load(options_.server_url, account); cred.ok()) {
      device_id = cred->device_id;
    }
    out.device_id = device_id;
    Emit(listener, type, 1,
         std::string(type == FlowType::kAuthentication ? "authentication" : protocol::FlowTypeName(type)) +
             " requested for account '" + account + "'" +
             (device_id.empty() ? "" : " on device " + device_id));

    auto refused = [&](const Status& st) -> Result<FlowOutcome> {
      if (!IsRefusal(st)) return st;
      out.success = false;
      out.outcome = "refused";
      out.reasons = {st.reason()};
      out.message = st.message();
      Emit(listener, type, steps.inform, "refused: " + st.reason() + " - " + st.message());
      return out;
    };

    auto session = OpenChannel(type, account, device_id, identity, srp_password);
    if (!session.ok()) return refused(session.status());
    Emit(listener, type, 2,
         "secure channel set up: SRP-6a (" + session->srp_group + ", " + session->srp_hash +
             ") with mutual proof, messages sealed with AES-256-GCM under the session key, inside TLS");

    // Steps 3-4: risk data -> the server's procedure and challenge.
    protocol::RiskReport risk;
    risk.device_type = options_.device_type;
    risk.platform = "linux";
    risk.os_version = OsRelease();
    risk.app_version = "0.1.0";
    // Decision 11.15: a plain Linux process has no trusted capture environment.
    // R-SEC-CLI-1: the OS release goes to the server as risk data; R-SEC-CLI-5 is not met (flag below).
    risk.integrity_flags = {"no_trusted_environment"};
    auto procedure_text = PostSealed(*session, "risk", protocol::ToJson(risk));
    if (!procedure_text.ok()) return refused(procedure_text.status());
    Emit(listener, type, 3,
         "risk data sent (platform linux " + risk.os_version + ", device type " + risk.device_type +
             ", flags: no_trusted_environment)");
    LG_ASSIGN_OR_RETURN(auto procedure, protocol::ParseProcedure(*procedure_text));

    for (int attempt = 0;; ++attempt) {
      out.tier = procedure.tier;
      out.asd_type = procedure.asd_type;
      std::string reasons;
      for (const auto& r : procedure.reasons) reasons += (reasons.empty() ? "" : ", ") + r;
      Emit(listener, type, 4,
           "server decision logic: biometric " + procedure.biometric_type + ", ASD " + procedure.asd_type +
               ", risk tier " + procedure.tier + (reasons.empty() ? "" : " (" + reasons + ")"));
      // The light challenge (actions+light) needs the screen to show colours
      // at the challenge's times: only the browser client can. Stop before
      // capturing and name the client that can (issue 15, docs/WEB.md).
      if (procedure.asd_type == "actions+light" && !options_.shows_screen_colours) {
        return refused(Status(StatusCode::kPermissionDenied, "client.light_unsupported",
                              "this check shows colours on the screen, which the command-line client cannot do; "
                              "open " + options_.server_url + "/app/ in a browser with a camera"));
      }
      LG_ASSIGN_OR_RETURN(auto challenge, judgement::ChallengeFromJson(procedure.challenge.dump()));
      out.challenge.clear();
      std::string todo;
      for (const auto& s : challenge.steps) {
        out.challenge.emplace_back(judgement::ActionName(s.action));
        todo += (todo.empty() ? "" : ", ") + client::ActionPrompt(s.action) + " at " +
                std::to_string(s.start_ms / 1000.0).substr(0, 4) + "-" +
                std::to_string(s.end_ms / 1000.0).substr(0, 4) + " s";
      }
      Emit(listener, type, 5,
           challenge.steps.empty()
               ? "please look at the camera for " + std::to_string(challenge.duration_ms / 1000) + " s"
               : "please: " + todo + (challenge.scripted ? " [scripted challenge]" : ""));

      // Steps 6-7: the user performs; capture + local ASD and quality.
      LG_RETURN_IF_ERROR(PrepareAnalyzer());
      LG_ASSIGN_OR_RETURN(auto frames, client::FrameSource::Open(ToCaptureOptions(source)));
      Emit(listener, type, 6, frames->live() ? "capturing from the camera: follow the prompts"
                                             : "presenting the face from " + source.path +
                                                   " (frames " + std::to_string(source.start_frame) + ".." +
                                                   (source.end_frame < 0 ? std::string("end")
                                                                         : std::to_string(source.end_frame)) +
                                                   ")");
      client::CaptureSessionOptions co;
      auto captured = client::RunCaptureSession(
          *frames, *analyzer_, challenge, co, [&](const client::CaptureEvent& ce) {
            if (!listener) return;
            FlowEvent e;
            if (ce.kind == client::CaptureEvent::Kind::kEnvironment) {
              e.kind = FlowEvent::Kind::kEnvironment;
              for (const auto& i : ce.environment.issues) {
                e.advice.push_back(i.advice);
                e.advice_codes.push_back(i.code);
              }
              e.message = e.advice.empty() ? "" : e.advice.front();
            } else if (ce.kind == client::CaptureEvent::Kind::kCapturing) {
              e.kind = FlowEvent::Kind::kCapture;
              e.action = ce.progress.current_action;
              e.steps_done = ce.progress.steps_done;
              e.steps_total = ce.progress.steps_total;
              e.elapsed_ms = ce.elapsed_ms;
              e.duration_ms = ce.duration_ms;
              e.frames = ce.frames;
              e.message = ce.progress.prompt;
              e.screen_colour = ce.colour_hex;
            } else {
              return;
            }
            listener(e);
          });
      if (!captured.ok()) {
        const auto& st = captured.status();
        if (st.reason() == "env.conditions_not_met" || st.reason() == "capture.no_face") {
          out.outcome = "refused";
          out.reasons = {st.reason()};
          out.message = st.message();
          Emit(listener, type, steps.inform, "not sent: " + st.message());
          return out;
        }
        return st;
      }
      out.client_live = captured->preliminary.live;
      out.client_reason = captured->preliminary.reason;
      out.client_actions_detected = captured->preliminary.detected;
      std::string seen;
      for (const auto& d : captured->preliminary.detected) seen += (seen.empty() ? "" : ", ") + d;
      Emit(listener, type, 7,
           "captured " + std::to_string(captured->frames.size()) + " face frames; local ASD (preliminary): " +
               (captured->preliminary.live ? "live" : "not live") + " [" + captured->preliminary.reason + "]" +
               (seen.empty() ? "" : ", actions seen: " + seen));

      // Step 8: the sealed capture package (decisions 11.4, 11.8).
      client::PackageOptions po;
      if (procedure.max_frames > 0) po.max_frames = procedure.max_frames;
      // Issue 13: every camera frame of a blink window goes into the package.
      for (const auto& step : challenge.steps) {
        if (step.action == judgement::Action::kBlink && challenge.type != judgement::AsdType::kPassive) {
          po.dense_windows.emplace_back(static_cast<double>(step.start_ms),
                                        static_cast<double>(step.end_ms + judgement::ChallengePolicy{}.window_slack_ms));
        }
      }
      if (procedure.max_frame_side > 0) po.max_side = std::min(po.max_side, procedure.max_frame_side);
      Result<client::CapturePackage> package = Status::Internal("package.unset", "");
      for (int quality = 90; quality >= 40; quality -= 10) {  // fit the per-frame byte bound
        po.jpeg_quality = quality;
        package = client::BuildCapturePackage(captured->frames, po);
        if (!package.ok()) return package.status();
        std::size_t largest = 0;
        for (const auto& f : package->frames) largest = std::max(largest, f.jpeg.size());
        if (procedure.max_frame_bytes == 0 || largest <= procedure.max_frame_bytes) break;
      }
      protocol::CaptureSubmission sub;
      sub.challenge_id = challenge.id;
      sub.session_nonce = procedure.session_nonce;
      for (const auto& f : package->frames) {
        sub.frames.push_back({static_cast<std::int64_t>(std::llround(f.timestamp_ms)), f.jpeg});
      }
      // Only a client that drew a colour sequence reports one; the CLI never
      // does (it refuses actions+light before capture: client.light_unsupported).
      if (!package->display.empty()) {
        std::vector<protocol::DisplayChangeMessage> display;
        for (const auto& d : package->display) display.push_back({std::llround(d.timestamp_ms), d.rgb});
        sub.display = std::move(display);
      }
      sub.client.live = captured->preliminary.live;
      sub.client.quality = package->best_frame >= 0 ? package->frames[package->best_frame].quality : 0;
      sub.client.best_frame = package->best_frame;
      sub.client.actions_detected = captured->preliminary.detected;
      if (new_credential) {
        // Registration: the verifier of the new device secret (never the secret).
        LG_ASSIGN_OR_RETURN(auto group, crypto::SrpGroup::Create({session->srp_group, session->srp_hash}));
        LG_ASSIGN_OR_RETURN(auto v, crypto::MakeSrpVerifier(group, new_credential->device_id,
                                                            crypto::HexEncode(new_credential->secret)));
        sub.device_credential = protocol::DeviceCredential{session->srp_group, session->srp_hash, v.salt,
                                                           v.verifier};
      }
      out.frames_sent = static_cast<int>(sub.frames.size());
      ++out.attempts;
      const std::string sub_json = protocol::ToJson(sub);
      if (listener) {
        FlowEvent e;
        e.kind = FlowEvent::Kind::kUpload;
        e.frames = out.frames_sent;
        e.bytes = sub_json.size();
        e.message = "uploading " + std::to_string(out.frames_sent) + " frames (" +
                    std::to_string(sub_json.size() / 1024) + " KiB)";
        listener(e);
      }
      std::size_t sealed_bytes = 0;
      Emit(listener, type, 8,
           "sending the sealed capture package: " + std::to_string(out.frames_sent) +
               " face crops (JPEG, no metadata, <= " + std::to_string(po.max_side) +
               " px) with timestamps + preliminary results" +
               (new_credential ? " + the new device's SRP verifier" : ""));
      // R-CLI-CAP-3: the locally checked capture goes to the server's authentication interface.
      auto result_text = PostSealed(*session, "capture", sub_json, &sealed_bytes);
      if (!result_text.ok()) return refused(result_text.status());
      LG_ASSIGN_OR_RETURN(auto result, protocol::ParseFlowResult(*result_text));
      std::string rs;
      for (const auto& r : result.reasons) rs += (rs.empty() ? "" : ", ") + r;
      if (result.outcome == "recapture" && result.next && attempt + 1 <= options_.max_recaptures) {
        Emit(listener, type, steps.server_judges,
             "server asks for a new capture (" + rs + "): " + result.message);
        procedure = *result.next;
        continue;
      }
      Emit(listener, type, steps.server_judges,
           std::string(type == FlowType::kRegistration     ? "server bound the capture to the account and judged it"
                       : type == FlowType::kAuthentication ? "server judged the capture and compared it with the reference"
                                                           : "server judged the capture and compared it with the reference") +
               " -> " + result.outcome + (rs.empty() ? "" : " (" + rs + ")"));
      out.outcome = result.outcome;
      out.reasons = result.reasons;
      out.message = result.message;
      out.success = result.outcome == "registered" || result.outcome == "authenticated" ||
                    result.outcome == "deregistered";
      if (type == FlowType::kRegistration && out.success) {
        Emit(listener, type, 10, "server stored the protected reference");
      }
      if (type == FlowType::kDeregistration && out.success) {
        Emit(listener, type, 10, "server deleted the references, device credentials and data key");
      }
      Emit(listener, type, steps.result, "server returned: " + result.outcome);
      break;
    }
    // Local security management follows the server's decision.
    if (out.success && new_credential) LG_RETURN_IF_ERROR(store_->Save(*new_credential));
    if (out.success && type == FlowType::kDeregistration) {
      LG_RETURN_IF_ERROR(store_->Remove(options_.server_url, account));
    }
    Emit(listener, type, steps.inform,
         out.success ? (type == FlowType::kRegistration     ? "registered successfully"
                        : type == FlowType::kAuthentication ? "authenticated successfully"
                                                            : "deregistered: face login is disabled")
                     : "refused: " + out.message);
    return out;
  }

  ClientOptions options_;
  client::ServerAddress address_;
  std::optional<client::SecretStore> store_;
  client::PinnedTrust trust_;
  std::unique_ptr<client::HttpsClient> https_;
  std::unique_ptr<vision::FaceAnalyzer> analyzer_;
};

}  // namespace

Result<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  LG_ASSIGN_OR_RETURN(auto address, client::ParseServerUrl(options.server_url));
  return std::unique_ptr<Client>(new ClientImpl(options, std::move(address)));
}

}  // namespace livegate
