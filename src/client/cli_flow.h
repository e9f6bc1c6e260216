// Shared by the `livegate register | authenticate | deregister` commands
// (apps/livegate/cmd_*.cc): options, password input, the progress display
// and the --json output. Header-only because it needs the CLI registry of
// apps/00_cli_common, which the client library must not depend on.
#pragma once

#include <csignal>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command.h"
#include "livegate/client.h"

namespace livegate::client_cli {

enum class FlowKind { kRegister, kAuthenticate, kDeregister };

struct FlowCommandOptions {
  std::string server;
  std::string account;
  std::optional<int> camera;
  std::string video;
  std::string images;
  int start_frame = 0;
  int end_frame = -1;
  double fps = 15.0;
  std::string state_dir;
  std::string pin_file;
  bool trust_on_first_use = false;
  std::string models;
  std::string password_file;
  bool json = false;
};

inline void AddFlowOptions(CLI::App* cmd, FlowCommandOptions& o, bool needs_password) {
  cmd->add_option("--server", o.server, "Server URL, https://host:port")->required();
  cmd->add_option("--account", o.account, "Account id")->required();
  auto* cam = cmd->add_option("--camera", o.camera, "Capture from camera N (default: camera 0)");
  auto* vid = cmd->add_option("--video", o.video, "Capture from a video file");
  auto* img = cmd->add_option("--images", o.images, "Capture from a folder of images (name order)");
  cam->excludes(vid)->excludes(img);
  vid->excludes(img);
  cmd->add_option("--start-frame", o.start_frame, "First frame of a video/images to use (default 0)");
  cmd->add_option("--end-frame", o.end_frame, "One past the last frame to use (default: to the end)");
  cmd->add_option("--fps", o.fps, "Frame rate of an image sequence (default 15)");
  cmd->add_option("--state-dir", o.state_dir,
                  "Client state folder: device key, credentials, pins (default $LIVEGATE_STATE_DIR or "
                  "~/.local/state/livegate)");
  cmd->add_option("--pin", o.pin_file, "Trust and pin this PEM certificate or CA for the server");
  cmd->add_flag("--insecure-trust-on-first-use", o.trust_on_first_use,
                "Pin the certificate the server presents now (check its fingerprint out of band)");
  cmd->add_option("--models", o.models, "Model folder (default $LIVEGATE_MODELS or the build's models/)");
  if (needs_password) {
    cmd->add_option("--password-file", o.password_file,
                    "Read the account password from this file (else $LIVEGATE_PASSWORD, else a prompt)");
  }
  cmd->add_flag("--json", o.json, "Print one JSON object with the result on stdout (progress on stderr)");
}

// Account password: --password-file, $LIVEGATE_PASSWORD, or a prompt without echo.
inline std::optional<std::string> ReadPassword(const FlowCommandOptions& o) {
  if (!o.password_file.empty()) {
    std::ifstream in(o.password_file);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    return line;
  }
  if (const char* p = std::getenv("LIVEGATE_PASSWORD"); p && *p) return std::string(p);
  if (!::isatty(STDIN_FILENO)) return std::nullopt;
  std::cerr << "Password for account '" << o.account << "': " << std::flush;
  termios old{};
  ::tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string line;
  std::getline(std::cin, line);
  ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
  return line;
}

// Human progress on stderr: one line per flow step; on a terminal the
// capture progress redraws one line, elsewhere only prompt changes print.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(::isatty(STDERR_FILENO)) {}
  ~ProgressPrinter() { EndLine(); }

  void operator()(const FlowEvent& e) {
    switch (e.kind) {
      case FlowEvent::Kind::kStep:
        EndLine();
        std::cerr << "[" << e.step << "] " << e.message << "\n";
        break;
      case FlowEvent::Kind::kEnvironment: {
        std::string all;
        for (const auto& a : e.advice) all += (all.empty() ? "" : " ") + a;
        if (all != last_advice_) {
          EndLine();
          std::cerr << "  ! " << all << "\n";
          last_advice_ = all;
        }
        break;
      }
      case FlowEvent::Kind::kCapture: {
        const double frac = e.duration_ms > 0 ? std::min(1.0, double(e.elapsed_ms) / e.duration_ms) : 0;
        if (tty_) {
          const int filled = static_cast<int>(frac * 20);
          std::string bar(filled, '#');
          bar.resize(20, '.');
          char buf[64];
          std::snprintf(buf, sizeof buf, " %4.1f/%4.1f s ", e.elapsed_ms / 1000.0, e.duration_ms / 1000.0);
          std::cerr << "\r  [" << bar << "]" << buf << "actions " << e.steps_done << "/" << e.steps_total
                    << "  " << e.message << "\033[K" << std::flush;
          open_line_ = true;
        } else if (e.message != last_prompt_) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%5.1f s", e.elapsed_ms / 1000.0);
          std::cerr << "  " << buf << "  " << e.message << "  (actions seen " << e.steps_done << "/"
                    << e.steps_total << ")\n";
        }
        last_prompt_ = e.message;
        break;
      }
      case FlowEvent::Kind::kUpload:
        EndLine();
        std::cerr << "  " << e.message << " ...\n";
        break;
    }
  }

 private:
  void EndLine() {
    if (open_line_) std::cerr << "\n";
    open_line_ = false;
  }
  bool tty_;
  bool open_line_ = false;
  std::string last_prompt_, last_advice_;
};

// Exit code for an error Status (documented in docs/CLI.md).
inline int ExitCodeFor(const Status& st) {
  const std::string& r = st.reason();
  auto starts = [&r](const char* p) { return r.rfind(p, 0) == 0; };
  if (starts("url.")) return cli::kExitUsage;
  if (starts("capture.") || starts("image.") || starts("video.") || starts("package.")) {
    return st.code() == StatusCode::kUnavailable ? cli::kExitUnavailable : cli::kExitBadInput;
  }
  if (starts("pin.") || starts("https.") || starts("model.") || starts("vision.") ||
      st.code() == StatusCode::kUnavailable) {
    return cli::kExitUnavailable;
  }
  if (st.code() == StatusCode::kNotFound) return cli::kExitRefused;  // e.g. no credential on this device
  if (st.code() == StatusCode::kPermissionDenied || st.code() == StatusCode::kDataLoss) {
    return cli::kExitRefused;  // secret store refuses (permissions, tampering)
  }
  if (st.code() == StatusCode::kBadInput || st.code() == StatusCode::kTooLarge) return cli::kExitBadInput;
  return cli::kExitInternal;
}

inline nlohmann::json OutcomeJson(const FlowOutcome& o) {
  return {{"success", o.success},
          {"outcome", o.outcome},
          {"reasons", o.reasons},
          {"message", o.message},
          {"tier", o.tier},
          {"asd_type", o.asd_type},
          {"challenge", o.challenge},
          {"device_id", o.device_id},
          {"attempts", o.attempts},
          {"frames_sent", o.frames_sent},
          {"client_preliminary",
           {{"live", o.client_live}, {"reason", o.client_reason}, {"actions_detected", o.client_actions_detected}}}};
}

inline int RunFlowCommand(FlowKind kind, const FlowCommandOptions& o) {
  // A server closing the TLS connection mid-upload must be an error, not a kill.
  std::signal(SIGPIPE, SIG_IGN);
  CaptureSource source;
  if (!o.video.empty()) {
    source.kind = CaptureSource::Kind::kVideoFile;
    source.path = o.video;
  } else if (!o.images.empty()) {
    source.kind = CaptureSource::Kind::kImageSequence;
    source.path = o.images;
  } else {
    source.kind = CaptureSource::Kind::kCamera;
    source.camera_index = o.camera.value_or(0);
  }
  source.start_frame = o.start_frame;
  source.end_frame = o.end_frame;
  source.image_sequence_fps = o.fps;

  auto fail = [&](const Status& st) {
    if (o.json) {
      std::cout << nlohmann::json{{"success", false},
                                  {"outcome", "error"},
                                  {"reasons", {st.reason()}},
                                  {"message", st.message()}}
                       .dump()
                << "\n";
    }
    std::cerr << "livegate: " << st.ToString() << "\n";
    return ExitCodeFor(st);
  };

  std::string password;
  if (kind != FlowKind::kAuthenticate) {
    auto p = ReadPassword(o);
    if (!p) {
      return fail(Status::InvalidArgument("cli.no_password",
                                          "the account password is needed: use --password-file FILE, "
                                          "$LIVEGATE_PASSWORD or run on a terminal"));
    }
    password = *p;
  }
  ClientOptions co;
  co.server_url = o.server;
  co.state_dir = o.state_dir;
  co.pin_file = o.pin_file;
  co.trust_on_first_use = o.trust_on_first_use;
  co.model_dir = o.models;
  auto client = Client::Create(co);
  if (!client.ok()) return fail(client.status());

  ProgressPrinter printer;
  auto listener = [&printer](const FlowEvent& e) { printer(e); };
  Result<FlowOutcome> r = Status::Internal("cli.unset", "");
  switch (kind) {
    case FlowKind::kRegister: r = (*client)->Register(o.account, password, source, listener); break;
    case FlowKind::kAuthenticate: r = (*client)->Authenticate(o.account, source, listener); break;
    case FlowKind::kDeregister: r = (*client)->Deregister(o.account, password, source, listener); break;
  }
  if (!r.ok()) return fail(r.status());
  if (o.json) {
    std::cout << OutcomeJson(*r).dump() << "\n";
  } else {
    std::cout << (r->success ? "OK: " : "REFUSED: ") << r->outcome;
    if (!r->reasons.empty()) {
      std::cout << " (";
      for (std::size_t i = 0; i < r->reasons.size(); ++i) std::cout << (i ? ", " : "") << r->reasons[i];
      std::cout << ")";
    }
    if (!r->message.empty()) std::cout << " - " << r->message;
    std::cout << "\n";
  }
  return r->success ? cli::kExitOk : cli::kExitRefused;
}

}  // namespace livegate::client_cli
