#include "load_driver.h"

#include <httplib.h>

#include <fstream>
#include <thread>

#include "crypto/kdf.h"
#include "crypto/sealed_channel.h"
#include "crypto/srp6a.h"
#include "protocol/envelope.h"

namespace livegate::load {

using protocol::FlowType;

struct Driver::Flow {
  FlowType type;
  std::string name;
  bool interrupted = false;  // an outage cut one of its steps
};

// A server answer, or the transport's failure (status 0).
struct Driver::Reply {
  int status = 0;
  std::string body;
  std::string reason;  // error reason (JSON error body, or the transport's)
  bool ok() const { return status == 200; }
};

namespace {

std::string ErrorReason(int status, const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) return j["error"].value("reason", "?");
  return "http_" + std::to_string(status);
}

std::unique_ptr<httplib::SSLClient> PlainClient(const DriverConfig& c, int timeout_s) {
  auto cli = std::make_unique<httplib::SSLClient>(c.address.host, c.address.port);
  cli->set_ca_cert_path(c.ca_file.string());
  cli->enable_server_certificate_verification(true);
  cli->set_connection_timeout(2, 0);
  cli->set_read_timeout(timeout_s, 0);
  cli->set_keep_alive(false);
  return cli;
}

}  // namespace

Driver::Driver(const DriverConfig& config, int index, Recorder& recorder, PreparedSegment& registration_segment,
               PreparedSegment& authentication_segment)
    : config_(config), index_(index), rec_(recorder), reg_segment_(registration_segment),
      auth_segment_(authentication_segment) {
  client::PinnedTrust trust;
  trust.ca_file = config_.ca_file;
  client::HttpsOptions ho;
  ho.read_timeout_s = config_.request_timeout_s;
  https_ = client::HttpsClient::Create(config_.address, trust, ho);
}
Driver::~Driver() = default;

bool Driver::WaitHealthy() {
  const auto until = SteadyClock::now() + std::chrono::seconds(config_.retry_after_outage_s);
  const auto t0 = SteadyClock::now();
  while (SteadyClock::now() < until) {
    if (budget_ && budget_->stop.load()) return false;  // SIGINT/SIGTERM: give up waiting
    auto cli = PlainClient(config_, 2);
    if (auto r = cli->Get("/healthz"); r && r->status == 200) {
      rec_.Latency("outage.wait", MsSince(t0));
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

Driver::Reply Driver::Send(Flow& flow, const std::string& step, const std::string& path, const std::string& body,
                           const std::string& content_type) {
  auto once = [&]() {
    Reply rep;
    const auto t0 = SteadyClock::now();
    auto r = https_->Post(path, body, content_type);
    if (!r.ok()) {
      rep.reason = r.status().reason();
      return rep;
    }
    rep.status = r->status;
    rep.body = std::move(r->body);
    if (rep.status == 200) {
      rec_.Latency(step, MsSince(t0));
    } else {
      rep.reason = ErrorReason(rep.status, rep.body);
      rec_.Latency(step + " (refused)", MsSince(t0));
    }
    return rep;
  };
  Reply rep = once();
  auto outage = [](const Reply& r) { return r.status == 0 || r.status == 503; };
  if (rep.status != 200) rec_.Error(step, rep.status, rep.reason);
  if (config_.retry_after_outage_s <= 0 || !outage(rep)) return rep;
  // Fault mode: the server went away (or its database did) in the middle of
  // this step. Wait for it, then send the same bytes again.
  // No cap on outages: each wait is bounded, and a server that keeps dying
  // before it answers is exactly what the fault campaign does.
  while (outage(rep)) {
    flow.interrupted = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // no tight loop on a 503
    if (!WaitHealthy()) {
      rec_.Interrupted(flow.name, step, "no_recovery");
      return rep;
    }
    rep = once();
    if (outage(rep)) {
      rec_.Error(step, rep.status, rep.reason);
      continue;  // down again before it answered: wait again
    }
    std::string what = rep.ok()           ? "completed"
                       : rep.status < 500 ? "refused " + std::to_string(rep.status) + " " + rep.reason
                                          : "server_error " + std::to_string(rep.status) + " " + rep.reason;
    if (!rep.ok()) rec_.Error(step + ".retry", rep.status, rep.reason);
    rec_.Interrupted(flow.name, step, what);
  }
  return rep;
}

bool Driver::CreateAccount() {
  ++account_serial_;
  account_ = config_.account_prefix + "-c" + std::to_string(index_) + "-" + std::to_string(account_serial_) +
             "-" + crypto::HexEncode(crypto::RandomBytes(3));
  password_ = crypto::HexEncode(crypto::RandomBytes(12));
  device_id_.clear();
  device_secret_hex_.clear();
  auto group = crypto::SrpGroup::Create({"modp/srp/3072", "SHA-256"});
  if (!group.ok()) return false;
  auto v = crypto::MakeSrpVerifier(*group, account_, password_);
  if (!v.ok()) return false;
  const nlohmann::json body{{"account_id", account_}, {"srp_group", "modp/srp/3072"}, {"srp_hash", "SHA-256"},
                            {"salt", crypto::Base64UrlEncode(v->salt)},
                            {"verifier", crypto::Base64UrlEncode(v->verifier)}};
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto cli = PlainClient(config_, config_.request_timeout_s);
    const httplib::Headers headers{{"Authorization", "Bearer " + config_.admin_token}};
    const auto t0 = SteadyClock::now();
    auto r = cli->Post("/v1/admin/accounts", headers, body.dump(), "application/json");
    if (r && r->status == 201) {
      rec_.Latency("admin.create_account", MsSince(t0));
      WriteScripts(true);
      return true;
    }
    const int status = r ? r->status : 0;
    const std::string reason = r ? ErrorReason(r->status, r->body) : "https.unreachable";
    rec_.Error("admin.create_account", status, reason);
    // A retried create whose first attempt was committed before an outage.
    if (status == 409 && attempt > 0) {
      WriteScripts(true);
      return true;
    }
    if (config_.retry_after_outage_s <= 0 || !(status == 0 || status == 503) || !WaitHealthy()) return false;
  }
  return false;
}

void Driver::WriteScripts(bool present) {
  const std::pair<const char*, const PreparedSegment*> flows[] = {
      {"registration", &reg_segment_}, {"authentication", &auth_segment_}, {"deregistration", &auth_segment_}};
  for (const auto& [flow, seg] : flows) {
    const auto file = config_.scripts_dir / (account_ + "." + flow + ".json");
    if (present) {
      std::ofstream(file) << seg->spec().challenge_json;
    } else {
      std::error_code ec;
      std::filesystem::remove(file, ec);
    }
  }
}

Driver::FlowEnd Driver::RunFlow(FlowType type, RunBudget& budget, bool claim) {
  if (claim && !budget.Claim()) return FlowEnd::kBudget;
  for (int restart = 0;; ++restart) {
    bool retry_refused = false;
    const FlowEnd end = RunFlowOnce(type, &retry_refused);
    // Fault mode: the interrupted flow was refused on retry; a new flow must work.
    if (!retry_refused || restart >= config_.max_flow_restarts) return end;
    rec_.Count(std::string("flow restarted after a refused retry: ") + std::string(protocol::FlowTypeName(type)));
  }
}

Driver::FlowEnd Driver::RunFlowOnce(FlowType type, bool* retry_refused) {
  Flow flow{type, std::string(protocol::FlowTypeName(type))};
  const auto t_flow = SteadyClock::now();
  auto fail = [&](const std::string& step, const Reply& r) {
    if (flow.interrupted && r.status >= 400 && r.status < 500) {
      *retry_refused = true;
    }
    rec_.Outcome(flow.name, "error at " + step + ": " + (r.status ? std::to_string(r.status) : "-") + " " + r.reason);
    return FlowEnd::kError;
  };
  // Credentials of this flow (decision 11.6).
  std::string identity = account_, secret = password_, device_id = device_id_;
  std::string new_secret_hex;
  if (type == FlowType::kRegistration) {
    device_id = "dev-" + crypto::HexEncode(crypto::RandomBytes(8));
    new_secret_hex = crypto::HexEncode(crypto::RandomBytes(32));
  } else if (type == FlowType::kAuthentication) {
    identity = device_id_;
    secret = device_secret_hex_;
  }
  // 1. start
  protocol::StartFlowRequest start{type, account_, device_id};
  Reply r = Send(flow, "start", "/v1/flows", protocol::ToJson(start), "application/json");
  if (!r.ok()) return fail("start", r);
  auto started = protocol::ParseStartFlowResponse(r.body);
  if (!started.ok()) return fail("start", {0, "", started.status().reason()});
  // 2. verify (SRP-6a)
  auto group = crypto::SrpGroup::Create({started->srp_group, started->srp_hash});
  if (!group.ok()) return fail("verify", {0, "", group.status().reason()});
  auto srp = crypto::SrpClientSession::Respond(*group, identity, secret, started->salt, started->B);
  if (!srp.ok()) return fail("verify", {0, "", srp.status().reason()});
  const std::string flow_path = "/v1/flows/" + started->flow_id;
  r = Send(flow, "verify", flow_path + "/verify", protocol::ToJson(protocol::VerifyRequest{srp->A(), srp->M1()}),
           "application/json");
  if (!r.ok()) return fail("verify", r);
  auto verified = protocol::ParseVerifyResponse(r.body);
  if (!verified.ok()) return fail("verify", {0, "", verified.status().reason()});
  if (auto st = srp->VerifyServer(verified->M2); !st.ok()) return fail("verify", {0, "", st.reason()});
  auto channel = crypto::SealedChannel::Create(srp->session_key(), started->channel_id, started->server_nonce,
                                               crypto::ChannelRole::kClient);
  if (!channel.ok()) return fail("verify", {0, "", channel.status().reason()});
  auto sealed = [&](const std::string& step, const std::string& json, std::string* plain) -> Reply {
    auto wire = protocol::SealToWire(*channel, crypto::AsBytes(json));
    if (!wire.ok()) return {0, "", wire.status().reason()};
    Reply rep = Send(flow, step, flow_path + "/" + step, std::string(wire->begin(), wire->end()),
                     "application/octet-stream");
    if (!rep.ok()) return rep;
    auto opened = protocol::OpenFromWire(*channel, crypto::AsBytes(rep.body));
    if (!opened.ok()) return {0, "", opened.status().reason()};
    plain->assign(opened->begin(), opened->end());
    return rep;
  };
  // 3-4. risk -> procedure
  protocol::RiskReport risk;
  risk.device_type = "linux-desktop";
  risk.platform = "linux";
  risk.os_version = "6.1";
  risk.app_version = "0.1.0";
  risk.integrity_flags = {"no_trusted_environment"};
  std::string text;
  r = sealed("risk", protocol::ToJson(risk), &text);
  if (!r.ok()) return fail("risk", r);
  auto procedure = protocol::ParseProcedure(text);
  if (!procedure.ok()) return fail("risk", {0, "", procedure.status().reason()});
  // 8-11. capture -> result (re-captures as the real client: at most 2)
  PreparedSegment& segment = type == FlowType::kRegistration ? reg_segment_ : auth_segment_;
  for (int attempt = 0;; ++attempt) {
    auto package = segment.Package(*procedure, config_.max_frames_cap);
    if (!package.ok()) return fail("capture", {0, "", package.status().reason()});
    protocol::CaptureSubmission sub = **package;
    if (config_.frame_override) {
      const std::size_t n = sub.frames.size();
      sub.frames.clear();
      for (std::size_t i = 0; i < n; ++i) {
        sub.frames.push_back({static_cast<std::int64_t>(i * 66), *config_.frame_override});
      }
    }
    sub.challenge_id = procedure->challenge.value("id", "");
    sub.session_nonce = procedure->session_nonce;
    if (type == FlowType::kRegistration) {
      auto v = crypto::MakeSrpVerifier(*group, device_id, new_secret_hex);
      if (!v.ok()) return fail("capture", {0, "", v.status().reason()});
      sub.device_credential = protocol::DeviceCredential{started->srp_group, started->srp_hash, v->salt, v->verifier};
    }
    r = sealed("capture", protocol::ToJson(sub), &text);
    if (!r.ok()) return fail("capture", r);
    auto result = protocol::ParseFlowResult(text);
    if (!result.ok()) return fail("capture", {0, "", result.status().reason()});
    if (result->outcome == "recapture" && result->next && attempt < 2) {
      rec_.Count("recapture requested");
      procedure = *result->next;
      continue;
    }
    const bool success = result->outcome == "registered" || result->outcome == "authenticated" ||
                         result->outcome == "deregistered";
    std::string outcome = result->outcome;
    if (!success) {
      for (const auto& reason : result->reasons) outcome += " " + reason;
    }
    rec_.Outcome(flow.name, outcome);
    rec_.Latency("flow." + flow.name, MsSince(t_flow));
    if (flow.interrupted) rec_.Count("interrupted flow then " + result->outcome);
    if (success && type == FlowType::kRegistration) {
      device_id_ = device_id;
      device_secret_hex_ = new_secret_hex;
    }
    return success ? FlowEnd::kSuccess : FlowEnd::kRefused;
  }
}

void Driver::Run(RunBudget& budget) {
  budget_ = &budget;
  while (!budget.stop.load() && SteadyClock::now() < budget.deadline && budget.flows_left.load() > 0) {
    if (!CreateAccount()) {
      if (config_.retry_after_outage_s <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    bool registered = false;
    // Fault mode: a registration may have to be repeated (its answer lost).
    for (int i = 0; i < 3 && !registered; ++i) {
      const FlowEnd e = RunFlow(FlowType::kRegistration, budget);
      if (e == FlowEnd::kBudget) break;
      registered = e == FlowEnd::kSuccess;
      if (config_.retry_after_outage_s <= 0) break;
    }
    if (registered) {
      // A registration the client saw succeed must hold on whichever
      // process answers next: the next authentication or the
      // deregistration (which compares the face with the stored
      // reference) confirms it. "unconfirmed" = every later flow of the account
      // failed - the scale test's "0 lost registrations".
      rec_.Count("registrations seen ok");
      bool confirmed = false, tried = false;
      for (int i = 0; i < config_.auths_per_account; ++i) {
        const FlowEnd e = RunFlow(FlowType::kAuthentication, budget);
        if (e == FlowEnd::kBudget) break;
        tried = true;
        confirmed = confirmed || e == FlowEnd::kSuccess;
      }
      // Deregistration runs even past the deadline or the flow budget (one
      // more flow per client), so a run leaves no account registered.
      if (!budget.stop.load()) {
        tried = true;
        confirmed = RunFlow(FlowType::kDeregistration, budget, /*claim=*/false) == FlowEnd::kSuccess || confirmed;
      }
      rec_.Count(confirmed ? "registrations confirmed by a later flow"
                           : tried ? "registrations unconfirmed (every later flow failed)"
                                   : "registrations unchecked (run stopped)");
    }
    WriteScripts(false);
  }
}

}  // namespace livegate::load
