// livegate client SDK (X.1279 clause 7.2, the client functions; clause 8.1,
// the client's steps of the three flows). Public header: standard library
// types only.
//
//   livegate::ClientOptions o;
//   o.server_url = "https://127.0.0.1:8443";
//   auto client = livegate::Client::Create(o);
//   livegate::CaptureSource cam;                       // camera 0
//   auto r = (*client)->Authenticate("alice", cam, [](const livegate::FlowEvent& e) {
//     std::cout << e.message << "\n";                  // prompts and progress
//   });
//   if (r.ok() && r->success) ...                      // the SERVER's decision
//
// What the client decides locally (environment, actions seen, frame
// quality) only guides the user and is sent as preliminary (R-CLI-ASD-5,
// decision 11.10); the server decides.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "livegate/status.h"

namespace livegate {

struct ClientOptions {
  std::string server_url;             // https://host:port (https only)
  std::string state_dir;              // "" = $LIVEGATE_STATE_DIR, else ~/.local/state/livegate
  std::string pin_file;               // trust this PEM certificate/CA for the server (and pin it)
  bool trust_on_first_use = false;    // pin whatever the server presents now (explicit opt-in)
  std::string model_dir;              // "" = $LIVEGATE_MODELS, else the build's models/
  std::string device_type = "linux-desktop";  // reported risk data (decision 11.13)
  int max_recaptures = 2;             // client-side cap on re-captures the server asks for
  // The embedding application shows FlowEvent::screen_colour full-screen at
  // the challenge's times. When false (the CLI), an actions+light procedure
  // is refused before capture with client.light_unsupported.
  bool shows_screen_colours = false;
};

// Where the frames come from (R-CLI-CAP-1).
struct CaptureSource {
  enum class Kind { kCamera, kVideoFile, kImageSequence };
  Kind kind = Kind::kCamera;
  int camera_index = 0;               // kCamera
  std::string path;                   // kVideoFile: a file; kImageSequence: a folder
  std::vector<std::string> images;    // kImageSequence: explicit list (wins over path)
  int start_frame = 0;                // use frames [start_frame, end_frame) of a file source
  int end_frame = -1;                 // -1: to the end
  double image_sequence_fps = 15.0;   // capture timestamps of an image sequence
};

// Something the user should see, as it happens.
struct FlowEvent {
  enum class Kind {
    kStep,         // an X.1279 flow step took place (step holds its id)
    kEnvironment,  // conditions not met yet: advice says what to change (R-CLI-ENV-1)
    kCapture,      // capture progress: current action and progress (R-CLI-ASD-1)
    kUpload,       // the capture package is being sent
  };
  Kind kind = Kind::kStep;
  std::string step;                   // e.g. "R-FLOW-AUT-5" (kStep)
  std::string message;                // one line for a person
  std::vector<std::string> advice;    // kEnvironment: every condition not met, as advice
  std::vector<std::string> advice_codes;  // kEnvironment: env.too_dark, ...
  std::string action;                 // kCapture: action to perform now ("" = none)
  int steps_done = 0;                 // kCapture: actions detected so far
  int steps_total = 0;
  std::int64_t elapsed_ms = 0;        // kCapture
  std::int64_t duration_ms = 0;
  int frames = 0;                     // kCapture / kUpload: frames recorded / sent
  std::size_t bytes = 0;              // kUpload: sealed package size
  std::string screen_colour;          // kCapture, actions+light: "#rrggbb" to show now
};
using FlowListener = std::function<void(const FlowEvent&)>;

// The server's decision and what the client saw.
struct FlowOutcome {
  bool success = false;               // registered / authenticated / deregistered
  std::string outcome;                // "registered", "authenticated", "deregistered", "refused"
  std::vector<std::string> reasons;   // stable codes, e.g. "asd.actions.missing:nod", "auth.failed"
  std::string message;                // the server's words for the user
  std::string tier;                   // risk tier the server chose (low / medium / high)
  std::string asd_type;               // passive / actions / actions+light
  std::vector<std::string> challenge; // actions asked for, in order
  std::string device_id;              // the device credential used or created
  int attempts = 0;                   // captures sent (1 + re-captures)
  // Preliminary local results (R-CLI-ASD-5): never the decision.
  bool client_live = false;
  std::string client_reason;
  std::vector<std::string> client_actions_detected;
  int frames_sent = 0;
};

class Client {
 public:
  // Reasons: url.bad, url.not_https; models are loaded lazily at the first flow.
  static Result<std::unique_ptr<Client>> Create(const ClientOptions& options);
  virtual ~Client() = default;

  // R-FLOW-REG-1..12. `password` is the account password (R-FLOW-REG-0
  // precondition); a new per-device secret is generated, its SRP verifier
  // sent to the server, and the secret kept encrypted on this device.
  virtual Result<FlowOutcome> Register(const std::string& account, const std::string& password,
                                       const CaptureSource& source, const FlowListener& listener) = 0;
  // R-FLOW-AUT-1..11 with this device's secret (decision 11.6).
  virtual Result<FlowOutcome> Authenticate(const std::string& account, const CaptureSource& source,
                                           const FlowListener& listener) = 0;
  // R-FLOW-DER-1..12 with the account password; on success the local
  // device credential is deleted too.
  virtual Result<FlowOutcome> Deregister(const std::string& account, const std::string& password,
                                         const CaptureSource& source, const FlowListener& listener) = 0;
};

}  // namespace livegate
