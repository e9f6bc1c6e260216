// livegate-load — load generator for livegate-server (docs/RELIABILITY.md).
//
//   livegate-load --server https://127.0.0.1:8443 --ca tls_cert.pem \
//     --scripts-dir SERVER_DIR/challenges --clients 8 --duration 60 [--json]
//
// M simulated clients (threads) run complete flows — admin account
// creation, registration, K authentications, deregistration — with real
// captures from a shared-data clip, prepared once (load_captures.h), against
// a real server on loopback only. Bounded: at most 64 clients, 3600 s and
// --max-flows flows. Prints sessions/s, p50/p95/p99 per step, outcomes,
// errors by reason and, with --server-pid, the server's CPU time per flow and
// its memory. The admin token comes from $LIVEGATE_ADMIN_TOKEN.
#include <arpa/inet.h>
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include "client/pinning.h"
#include "hostile_images.h"
#include "load_captures.h"
#include "load_driver.h"
#include "load_stats.h"

namespace {

using namespace livegate;
using namespace livegate::load;

std::atomic<bool>* g_stop = nullptr;
void OnSignal(int) {
  if (g_stop) g_stop->store(true);
}

// Loopback only: a load generator must not be pointed at someone else's server.
bool IsLoopback(std::string host) {
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

struct ProcSample {
  bool ok = false;
  double cpu_s = 0;
  long rss_kib = 0, hwm_kib = 0;
};
// utime + stime from /proc/PID/stat, VmRSS and VmHWM from /proc/PID/status.
ProcSample SampleProcess(int pid) {
  ProcSample s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return s;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_kib = std::atol(line.c_str() + 6);
  }
  s.ok = true;
  return s;
}

int WriteHostile(const std::filesystem::path& dir, int side, std::size_t max_bytes) {
  std::filesystem::create_directories(dir);
  auto bomb = ProgressiveJpegBomb(side, max_bytes);
  auto png = HugeBlankPng(20000, 20000);
  if (!bomb.ok() || !png.ok()) {
    std::cerr << "livegate-load: cannot craft the hostile frames\n";
    return 1;
  }
  std::ofstream(dir / "jpeg-bomb.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(bomb->bytes.data()), static_cast<std::streamsize>(bomb->bytes.size()));
  std::ofstream(dir / "huge.png", std::ios::binary)
      .write(reinterpret_cast<const char*>(png->data()), static_cast<std::streamsize>(png->size()));
  // What the bomb costs a decoder without a scan limit (OpenCV's libjpeg, here).
  const auto t0 = SteadyClock::now();
  const cv::Mat decoded = cv::imdecode(cv::Mat(1, static_cast<int>(bomb->bytes.size()), CV_8U, bomb->bytes.data()),
                                       cv::IMREAD_COLOR);
  const double decode_ms = MsSince(t0);
  std::printf("jpeg-bomb.jpg: %dx%d progressive, %d scans, %zu bytes; unbounded cv::imdecode here: %.0f ms (%s)\n"
              "huge.png: 20000x20000 1-bit grayscale, %zu bytes\n",
              side, side, bomb->scans, bomb->bytes.size(), decode_ms, decoded.empty() ? "failed" : "decoded",
              png->size());
  return 0;
}

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double a = 0;
  in >> a;
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"livegate-load: concurrent simulated clients running the three flows against a livegate-server "
               "on loopback (docs/RELIABILITY.md)"};
  std::string server, ca, scripts_dir, data_dir, clip = "2_face_video/liveportrait/liveportrait_d10.mp4", models;
  std::string prefix = "load", label;
  int clients = 4, duration_s = 30, auths = 2, max_frames = 0, retry_s = 0;
  long max_flows = 100000;
  std::vector<int> server_pids;
  bool json = false, real_rate = false;
  app.add_option("--server", server, "Server URL https://127.0.0.1:PORT (loopback only)")->required();
  app.add_option("--ca", ca, "The server's certificate (PEM) to trust")->required()->check(CLI::ExistingFile);
  app.add_option("--scripts-dir", scripts_dir,
                 "The server's testing.scripted_challenges_dir (the clip's challenge is written there per account)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--clients", clients, "Concurrent simulated clients (1..64)")->check(CLI::Range(1, 64));
  app.add_option("--duration", duration_s, "Seconds to start new flows (1..3600)")->check(CLI::Range(1, 3600));
  app.add_option("--max-flows", max_flows, "At most this many flows (registration/authentication) in all")
      ->check(CLI::Range(1L, 1000000L));
  app.add_option("--auths-per-account", auths, "Authentications between registration and deregistration")
      ->check(CLI::Range(0, 1000));
  app.add_option("--max-frames", max_frames, "Cap the frames per capture below the server's max_frames (0: none)")
      ->check(CLI::Range(0, 120));
  app.add_flag("--real-rate", real_rate,
               "Send every frame of the clip (its real rate, e.g. 25-30 fps) instead of the client's "
               "~16 fps sampling; the server's limits.max_frames must allow it (up to 120)");
  app.add_option("--data", data_dir, "Shared test data folder (default $LIVEGATE_TEST_DATA, else ../shared/data)");
  app.add_option("--clip", clip, "Clip inside the data folder (default: the demo's liveportrait_d10.mp4)");
  app.add_option("--models", models, "Model folder (default $LIVEGATE_MODELS or the build's models/)");
  app.add_option("--account-prefix", prefix, "Prefix of the accounts created");
  app.add_option("--retry-after-outage", retry_s,
                 "Fault mode: on a lost connection or 503 wait up to S s for /healthz, re-send the same "
                 "request once and record what it got (0: off)")
      ->check(CLI::Range(0, 600));
  app.add_option("--server-pid", server_pids, "Server process(es) to sample: CPU time per flow, RSS before/after");
  app.add_option("--label", label, "Free text copied into the report (e.g. the database)");
  std::string frame_file, write_hostile;
  int hostile_side = 480;
  std::size_t hostile_bytes = 262144;
  app.add_option("--frame-file", frame_file,
                 "Send this file (a crafted JPEG or PNG) as every frame of every capture (hostile-image runs)")
      ->check(CLI::ExistingFile);
  app.add_option("--write-hostile", write_hostile,
                 "Only write the crafted hostile frames into this folder and exit: jpeg-bomb.jpg "
                 "(progressive, --hostile-side, <= --hostile-bytes) and huge.png (20000x20000)");
  app.add_option("--hostile-side", hostile_side, "Side of the JPEG bomb (default 480)")->check(CLI::Range(16, 4096));
  app.add_option("--hostile-bytes", hostile_bytes, "Size bound of the JPEG bomb (default 262144)");
  app.add_flag("--json", json, "Print one JSON object instead of the table");
  // --server, --ca and --scripts-dir are not needed to only write files.
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--write-hostile" || std::string(argv[i]).rfind("--write-hostile=", 0) == 0) {
      for (auto* o : {"--server", "--ca", "--scripts-dir"}) app.get_option(o)->required(false);
    }
  }
  CLI11_PARSE(app, argc, argv);
  if (!write_hostile.empty()) return WriteHostile(write_hostile, hostile_side, hostile_bytes);

  auto address = client::ParseServerUrl(server);
  if (!address.ok()) {
    std::cerr << "livegate-load: " << address.status().message() << "\n";
    return 2;
  }
  if (!IsLoopback(address->host)) {
    std::cerr << "livegate-load: refusing " << address->host
              << ": the load generator only targets loopback addresses (127.0.0.0/8, ::1, localhost)\n";
    return 2;
  }
  const char* token = std::getenv("LIVEGATE_ADMIN_TOKEN");
  if (!token || !*token) {
    std::cerr << "livegate-load: set LIVEGATE_ADMIN_TOKEN (the server's admin token: accounts are created)\n";
    return 2;
  }
  if (data_dir.empty()) {
    const char* d = std::getenv("LIVEGATE_TEST_DATA");
    data_dir = d && *d ? d : "../shared/data";
  }
  const std::string video = (std::filesystem::path(data_dir) / clip).string();
  if (!std::filesystem::exists(video)) {
    std::cerr << "livegate-load: clip not found: " << video << " (set --data or LIVEGATE_TEST_DATA)\n";
    return 2;
  }

  // The demo's segments of liveportrait_d10 (scripts/demo): she opens her
  // mouth at 0.5-3.5 s of frames 0-120 and at 1-4 s of frames 300-450.
  const auto t_prepare = SteadyClock::now();
  SegmentSpec reg_spec{"registration", video, 0, 120,
                       R"({"type":"actions","duration_ms":3900,"scripted":true,"steps":[{"action":"open_mouth","start_ms":500,"end_ms":3500}]})"};
  SegmentSpec auth_spec{"authentication", video, 300, 450,
                        R"({"type":"actions","duration_ms":4900,"scripted":true,"steps":[{"action":"open_mouth","start_ms":1000,"end_ms":4000}]})"};
  const double frame_gap = real_rate ? 0.0 : -1.0;
  auto reg = PreparedSegment::Prepare(reg_spec, models, frame_gap);
  auto auth = reg.ok() ? PreparedSegment::Prepare(auth_spec, models, frame_gap)
                       : Result<std::unique_ptr<PreparedSegment>>(reg.status());
  if (!auth.ok()) {
    std::cerr << "livegate-load: cannot prepare the captures: " << auth.status().reason() << ": "
              << auth.status().message() << "\n";
    return 1;
  }
  const double prepare_ms = MsSince(t_prepare);
  // Scripts wait for this line before they inject faults.
  std::fprintf(stderr, "livegate-load: ready (captures prepared in %.1f s)\n", prepare_ms / 1000.0);

  DriverConfig dc;
  dc.address = *address;
  dc.ca_file = ca;
  dc.admin_token = token;
  dc.scripts_dir = scripts_dir;
  dc.account_prefix = prefix;
  dc.auths_per_account = auths;
  dc.max_frames_cap = max_frames;
  dc.retry_after_outage_s = retry_s;
  if (!frame_file.empty()) {
    std::ifstream in(frame_file, std::ios::binary);
    dc.frame_override = std::make_shared<const std::vector<std::uint8_t>>(
        std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  Recorder rec;
  RunBudget budget;
  budget.deadline = SteadyClock::now() + std::chrono::seconds(duration_s);
  budget.flows_left = max_flows;
  g_stop = &budget.stop;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<ProcSample> before;
  for (int pid : server_pids) before.push_back(SampleProcess(pid));
  const double load_before = LoadAverage();
  const auto t0 = SteadyClock::now();
  std::vector<std::unique_ptr<Driver>> drivers;
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    drivers.push_back(std::make_unique<Driver>(dc, i, rec, **reg, **auth));
    threads.emplace_back([&, i] { drivers[i]->Run(budget); });
  }
  // The processes are sampled every 250 ms too, so that one killed during
  // the run still has its CPU time up to its last sample.
  std::vector<ProcSample> last = before;
  std::atomic<bool> run_over{false};
  std::thread sampler([&] {
    while (!run_over.load()) {
      for (std::size_t i = 0; i < server_pids.size(); ++i) {
        // RSS 0: a killed process not yet reaped (its CPU time is final).
        if (auto s = SampleProcess(server_pids[i]); s.ok && s.rss_kib > 0) last[i] = s;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  for (auto& t : threads) t.join();
  run_over = true;
  sampler.join();
  const double wall_s = MsSince(t0) / 1000.0;

  nlohmann::json report = rec.ToJson(wall_s);
  report["label"] = label;
  report["clients"] = clients;
  report["duration_s"] = duration_s;
  report["prepare_ms"] = prepare_ms;
  report["capture_frames"] = {{"registration", (*reg)->frames_with_face()}, {"authentication", (*auth)->frames_with_face()}};
  report["frames_sent_per_capture"] = {{"registration", (*reg)->frames_sent()},
                                       {"authentication", (*auth)->frames_sent()}};
  report["frames_per_second"] = {{"registration", (*reg)->frames_per_second()},
                                 {"authentication", (*auth)->frames_per_second()}};
  report["real_rate"] = real_rate;
  report["loadavg_1min"] = {{"before", load_before}, {"after", LoadAverage()}};
  report["cpus_online"] = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ostringstream extra;
  const auto sessions = report["sessions"].get<std::int64_t>();
  double cpu_all = 0;
  int sampled = 0;
  for (std::size_t i = 0; i < server_pids.size(); ++i) {
    auto after = SampleProcess(server_pids[i]);
    nlohmann::json p{{"pid", server_pids[i]}};
    const bool gone = !after.ok;
    if (gone) after = last[i];  // its last sample before it went away
    if (before[i].ok && after.ok) {
      const double cpu = after.cpu_s - before[i].cpu_s;
      p["cpu_s"] = cpu;
      p["cpu_ms_per_session"] = sessions > 0 ? 1000.0 * cpu / static_cast<double>(sessions) : 0.0;
      p["rss_kib_before"] = before[i].rss_kib;
      p["rss_kib_after"] = after.rss_kib;
      p["peak_rss_kib"] = after.hwm_kib;
      char buf[200];
      if (gone) p["gone"] = true;  // killed or restarted during the run: CPU up to its last sample
      std::snprintf(buf, sizeof buf,
                    "server pid %d: CPU %.1f s (%.0f ms per session), RSS %ld -> %ld KiB, peak %ld KiB%s\n",
                    server_pids[i], cpu, sessions > 0 ? 1000.0 * cpu / sessions : 0.0, before[i].rss_kib,
                    after.rss_kib, after.hwm_kib, gone ? " (gone during the run: up to its last sample)" : "");
      extra << buf;
      cpu_all += cpu;
      ++sampled;
    } else {
      p["gone"] = true;  // restarted or killed during the run
      char buf[120];
      std::snprintf(buf, sizeof buf, "server pid %d: gone during the run (killed or restarted)\n", server_pids[i]);
      extra << buf;
    }
    report["server_processes"].push_back(p);
  }
  if (sampled > 0) {
    // A "session" is one whole flow (registration, authentication or
    // deregistration): CPU of every sampled process per flow.
    report["cpu_ms_per_flow_all_processes"] = sessions > 0 ? 1000.0 * cpu_all / static_cast<double>(sessions) : 0.0;
    char buf[160];
    std::snprintf(buf, sizeof buf, "all %d sampled processes: CPU %.1f s, %.0f ms per flow\n", sampled, cpu_all,
                  sessions > 0 ? 1000.0 * cpu_all / static_cast<double>(sessions) : 0.0);
    extra << buf;
  }
  if (json) {
    std::cout << report.dump(2) << "\n";
  } else {
    std::printf("livegate-load%s%s: %d clients, %d s, captures prepared in %.1f s (%d + %d face frames)\n",
                label.empty() ? "" : " ", label.c_str(), clients, duration_s, prepare_ms / 1000.0,
                (*reg)->frames_with_face(), (*auth)->frames_with_face());
    std::printf("load average (1 min) %.2f before, %.2f after, %d CPUs\n", load_before, LoadAverage(),
                static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
    std::printf("frames per capture sent: registration %d, authentication %d (clip %.1f / %.1f fps%s)\n",
                (*reg)->frames_sent(), (*auth)->frames_sent(), (*reg)->frames_per_second(),
                (*auth)->frames_per_second(), real_rate ? ", every frame" : ", client sampling");
    std::cout << rec.ToText(wall_s) << extra.str();
  }
  return 0;
}
