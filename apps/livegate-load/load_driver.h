// One simulated client of livegate-load: account after account, it has the
// operator create the account (admin API, R-FLOW-REG-0), registers a device
// with a real capture, authenticates with it K times and deregisters — the
// four requests of each flow over the real protocol (SRP-6a, the sealed
// channel, the capture package), each step timed.
//
// Fault mode (retry_after_outage_s > 0): when a request finds the server
// gone (connection refused/reset) or unavailable (503), the client waits
// until /healthz answers 200 again, re-sends the very same request once and
// records what it got (Recorder::Interrupted); a refusal then starts the
// flow anew. The invariant the fault campaign checks: that retry either
// completes or is cleanly refused with a 4xx reason, never a 500.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "client/https_client.h"
#include "load_captures.h"
#include "load_stats.h"
#include "protocol/messages.h"

namespace livegate::load {

struct DriverConfig {
  client::ServerAddress address;
  std::filesystem::path ca_file;
  std::string admin_token;
  std::filesystem::path scripts_dir;    // the server's testing.scripted_challenges_dir
  std::string account_prefix = "load";
  int auths_per_account = 2;
  int max_frames_cap = 0;               // 0: the procedure's max_frames
  int retry_after_outage_s = 0;         // 0: an outage is an error; > 0: wait this long and retry
  int max_flow_restarts = 3;            // fault mode: new flows after a refused retry
  int request_timeout_s = 120;
  // Hostile-image runs: every frame of every capture is these bytes
  // (a crafted JPEG or PNG), as many frames as the procedure allows.
  std::shared_ptr<const std::vector<std::uint8_t>> frame_override;
};

// Shared stop conditions of a run.
struct RunBudget {
  SteadyClock::time_point deadline;
  std::atomic<long> flows_left{0};      // flows not yet claimed
  std::atomic<bool> stop{false};
  bool Claim() {
    if (stop.load() || SteadyClock::now() >= deadline) return false;
    return flows_left.fetch_sub(1) > 0;
  }
};

class Driver {
 public:
  Driver(const DriverConfig& config, int index, Recorder& recorder, PreparedSegment& registration_segment,
         PreparedSegment& authentication_segment);
  ~Driver();
  void Run(RunBudget& budget);

 private:
  struct Flow;
  struct Reply;
  enum class FlowEnd { kSuccess, kRefused, kError, kBudget };

  FlowEnd RunFlow(protocol::FlowType type, RunBudget& budget, bool claim = true);
  FlowEnd RunFlowOnce(protocol::FlowType type, bool* retry_refused);
  Reply Send(Flow& flow, const std::string& step, const std::string& path, const std::string& body,
             const std::string& content_type);
  bool WaitHealthy();
  bool CreateAccount();
  void WriteScripts(bool present);

  DriverConfig config_;
  int index_;
  Recorder& rec_;
  PreparedSegment& reg_segment_;
  PreparedSegment& auth_segment_;
  std::unique_ptr<client::HttpsClient> https_;
  std::string account_, password_, device_id_, device_secret_hex_;
  int account_serial_ = 0;
  RunBudget* budget_ = nullptr;
};

}  // namespace livegate::load
