// Messages of the three X.1279 flows (clause 8.1; R-FLOW-REG-1..12,
// R-FLOW-AUT-1..11, R-FLOW-DER-1..12; decisions 11.4, 11.6, 11.8) and their
// strict JSON form. docs/API.md documents every field; docs/PROTOCOL.md
// (crypto) the SRP exchange and the sealed envelope they ride in.
//
// Exchange (the same four requests in every flow):
//   1. StartFlowRequest  -> StartFlowResponse    plain JSON in HTTPS (step 2: SRP round 1)
//   2. VerifyRequest     -> VerifyResponse       plain JSON (step 2: SRP proofs M1/M2)
//   3. RiskReport        -> Procedure            sealed (steps 3-4)
//   4. CaptureSubmission -> FlowResult           sealed (steps 8-11 / 8-10)
// A FlowResult with outcome "recapture" carries the next Procedure
// (R-FLOW-X1: a quality rejection returns to step 5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/aead.h"
#include "livegate/status.h"

namespace livegate::protocol {

enum class FlowType { kRegistration, kAuthentication, kDeregistration };  // X.1279 8.1: R-FLOW-MSG-1/2/3
std::string_view FlowTypeName(FlowType type);  // "registration", ...
std::optional<FlowType> ParseFlowType(std::string_view name);

// Bounds enforced by the decoders (the server's configured limits may be
// tighter: frames, frame bytes).
struct MessageLimits {
  std::size_t max_id_length = 128;          // account_id, device_id, device_type
  std::size_t max_frames = 120;
  std::size_t max_frame_bytes = 1u << 20;
  std::size_t max_message_bytes = 32u << 20;
  // Display changes of a light capture: a sequence of n colours has at most
  // 2n changes (a colour on, then off); the judgement policy allows n <= 20.
  std::size_t max_display_changes = 64;
};

// --- 1. POST /v1/flows ---------------------------------------------------
struct StartFlowRequest {
  FlowType flow = FlowType::kRegistration;
  std::string account_id;
  // Registration: the new device's id (client-generated). Authentication:
  // the registered device id (required). Deregistration: optional.
  std::string device_id;
};
struct StartFlowResponse {
  std::string flow_id;        // 32 hex characters
  std::string srp_group;      // e.g. "modp/srp/3072"
  std::string srp_hash;       // e.g. "SHA-256"
  crypto::Bytes salt;
  crypto::Bytes B;
  crypto::Bytes channel_id;   // 16 bytes, for the sealed channel
  crypto::Bytes server_nonce; // 16 bytes
  std::int64_t expires_at_ms = 0;
};

// --- 2. POST /v1/flows/{id}/verify -----------------------------------------
struct VerifyRequest {
  crypto::Bytes A;
  crypto::Bytes M1;
};
struct VerifyResponse {
  crypto::Bytes M2;
};

// --- 3. POST /v1/flows/{id}/risk (sealed) -------------------------------
// Risk data the client reports (decision 11.3). What the server knows
// itself (known device, failures, last success, network) is never taken
// from here.
struct RiskReport {
  std::string device_type;    // e.g. "android-phone"; bound to the device credential (11.13)
  std::string platform;       // android, ios, linux, windows, macos, web
  std::string os_version;
  std::string app_version;
  std::vector<std::string> integrity_flags;
  bool network_changed = false;  // the client's own view (the server also checks)
};
struct Procedure {               // R-FLOW-*-4
  std::string biometric_type;    // "face"
  std::string asd_type;          // passive | actions | actions+light
  std::string tier;              // low | medium | high
  std::vector<std::string> reasons;
  nlohmann::json challenge;      // judgement's challenge JSON (steps, colours, duration)
  crypto::Bytes session_nonce;   // 16 bytes; the capture must echo it (R-FLOW-X2)
  std::int64_t challenge_expires_at_ms = 0;
  int recaptures_left = 0;
  int max_frames = 0;
  int max_frame_side = 0;
  std::size_t max_frame_bytes = 0;
};

// --- 4. POST /v1/flows/{id}/capture (sealed) ----------------------------
struct CaptureFrameMessage {
  std::int64_t timestamp_ms = 0;
  crypto::Bytes jpeg;            // face-region crop, no metadata (decision 11.8)
};
// One change of what the client showed full-screen during an actions+light
// capture (docs/API.md "display"): at t_ms (the frames' clock) the screen
// turned to `rgb`, "#rrggbb" in lower case, or "none" (the colour overlay
// taken down). The times are those at which the client drew, not the
// challenge's nominal ones: the server checks them against the challenge
// within a tolerance and judges the light response on them.
struct DisplayChangeMessage {
  std::int64_t t_ms = 0;
  std::string rgb;
  bool operator==(const DisplayChangeMessage&) const = default;
};
struct ClientResults {           // preliminary only (decision 11.10)
  bool live = false;
  double quality = 0;            // 0..1
  int best_frame = -1;
  std::vector<std::string> actions_detected;
};
struct DeviceCredential {        // registration only (decision 11.6)
  std::string srp_group;
  std::string srp_hash;
  crypto::Bytes salt;
  crypto::Bytes verifier;
};
struct CaptureSubmission {
  std::string challenge_id;
  crypto::Bytes session_nonce;
  std::vector<CaptureFrameMessage> frames;
  ClientResults client;
  // Required for an actions+light challenge, absent otherwise (the server
  // refuses display.missing / display.unexpected). Strictly increasing t_ms.
  std::optional<std::vector<DisplayChangeMessage>> display;
  std::optional<DeviceCredential> device_credential;
};

// Outcomes: "registered", "authenticated", "deregistered" (success);
// "recapture" (quality, R-FLOW-X1: `next` holds the new procedure);
// "refused" (the flow ends; reasons say why in stable codes, message in words).
struct FlowResult {
  std::string outcome;
  std::vector<std::string> reasons;
  std::string message;
  std::optional<Procedure> next;
};

// Encoders produce compact JSON. Decoders are strict (codec.h): unknown
// fields, wrong types, oversized strings or fields are BadInput(codec.*).
std::string ToJson(const StartFlowRequest& m);
std::string ToJson(const StartFlowResponse& m);
std::string ToJson(const VerifyRequest& m);
std::string ToJson(const VerifyResponse& m);
std::string ToJson(const RiskReport& m);
std::string ToJson(const Procedure& m);
std::string ToJson(const CaptureSubmission& m);
std::string ToJson(const FlowResult& m);

Result<StartFlowRequest> ParseStartFlowRequest(std::string_view json, const MessageLimits& l = {});
Result<StartFlowResponse> ParseStartFlowResponse(std::string_view json, const MessageLimits& l = {});
Result<VerifyRequest> ParseVerifyRequest(std::string_view json, const MessageLimits& l = {});
Result<VerifyResponse> ParseVerifyResponse(std::string_view json, const MessageLimits& l = {});
Result<RiskReport> ParseRiskReport(std::string_view json, const MessageLimits& l = {});
Result<Procedure> ParseProcedure(std::string_view json, const MessageLimits& l = {});
Result<CaptureSubmission> ParseCaptureSubmission(std::string_view json, const MessageLimits& l = {});
Result<FlowResult> ParseFlowResult(std::string_view json, const MessageLimits& l = {});

}  // namespace livegate::protocol
