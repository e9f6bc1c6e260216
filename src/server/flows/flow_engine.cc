// The three flows of X.1279 clause 8 over the API of docs/API.md:
//   POST /v1/flows                 R-FLOW-REG-1/2, AUT-1/2, DER-1/2 (SRP round 1)
//   POST /v1/flows/{id}/verify     R-FLOW-*-2 (SRP-6a proofs; sealed channel keys)
//   POST /v1/flows/{id}/risk       R-FLOW-*-3/4 (risk data -> decision logic ->
//                                  biometric type, ASD type, challenge bound to
//                                  the session nonce, R-FLOW-X2)
//   POST /v1/flows/{id}/capture    R-FLOW-*-8..11 (quality then ASD judgement,
//                                  R-FLOW-X1; then REG-9/10 bind + store,
//                                  AUT-9 compare, DER-9/10 compare + shred)
// Steps 5-7 and the last step (inform the user) are the client's.
// Every step reads the flow from the database and writes it back with a
// compare-and-set, so any server process can serve any step.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "crypto/kdf.h"
#include "crypto/sealed_channel.h"
#include "crypto/srp6a.h"
#include "judgement/judgement.h"
#include "protocol/envelope.h"
#include "protocol/messages.h"
#include "server/json_log.h"
#include "server/flows/flow_util.h"
#include "server/service.h"
#include "vision/image_io.h"

namespace livegate::server {

using nlohmann::json;
using protocol::FlowType;

namespace {

Status AuthFailed() {
  // The one answer to every authentication failure (wrong password, unknown
  // account, unknown or deregistered device, bad proof).
  return Status::Unauthenticated("auth.failed", "authentication failed");
}

}  // namespace

using namespace flows;  // NOLINT: internal helpers of this folder

// ------------------------------------------------------------ flow state

Result<crypto::Bytes> Service::SealFlowState(const std::string& flow_id, const json& state) {
  StepTimer t(timings_.crypto_ns);
  const std::string text = state.dump();
  return crypto::AeadSeal(flow_state_key_, crypto::AsBytes(text),
                          crypto::AsBytes("livegate/flow/v1/" + flow_id));
}

Result<json> Service::OpenFlowState(const std::string& flow_id, const crypto::Bytes& sealed) {
  StepTimer t(timings_.crypto_ns);
  LG_ASSIGN_OR_RETURN(auto plain, crypto::AeadOpen(flow_state_key_, sealed,
                                                   crypto::AsBytes("livegate/flow/v1/" + flow_id)));
  json j = json::parse(plain.begin(), plain.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status(StatusCode::kDataLoss, "flow.state_corrupt", "stored flow state is unreadable");
  }
  return j;
}

Result<Service::FlowContext> Service::LoadFlow(const std::string& flow_id) {
  FlowContext ctx;
  {
    StepTimer t(timings_.database_ns);
    auto row = deps_.store->GetFlow(flow_id);
    if (!row.ok()) return FlowStatusFromStorage(row.status());
    ctx.row = std::move(row).value();
  }
  LG_ASSIGN_OR_RETURN(ctx.state, OpenFlowState(flow_id, ctx.row.channel_state));
  ctx.type = protocol::ParseFlowType(ctx.row.flow_type).value_or(FlowType::kRegistration);
  return ctx;
}

// Decision 11.9 / R-SEC-SRV-1: the lockout of an account id, known or not,
// derived from the failure events in the database. Every server process on
// the database sees the same answer, and an unknown account id accumulates
// failures and locks exactly like a known one, so a lockout does not reveal
// that an account exists. Locked when the last `max_failures` flow events
// (newest first, since the last success) are failures that fit in
// `window_seconds`, until `lockout_seconds` after the newest of them.
Result<std::optional<storage::Timestamp>> Service::LockedUntil(const std::string& account_id) {
  StepTimer t(timings_.database_ns);
  return LockedUntilIn(*deps_.store, account_id, 0);
}

// `in_flight` proofs being checked now count as failures at `now` (R-SEC-SRV-1):
// with max_failures - 1 failures recorded and one proof in flight, a second
// concurrent proof of the same account id is refused as locked out instead
// of being checked too.
Result<std::optional<storage::Timestamp>> Service::LockedUntilIn(storage::StoreOps& ops,
                                                                 const std::string& account_id,
                                                                 int in_flight) {
  const auto& lo = deps_.policy.lockout;
  if (lo.max_failures <= 0) return std::optional<storage::Timestamp>();
  const auto now = Now();
  const auto since = now - std::chrono::seconds(lo.window_seconds + lo.lockout_seconds);
  std::vector<storage::Timestamp> failures(
      static_cast<std::size_t>(std::clamp(in_flight, 0, lo.max_failures)), now);
  if (static_cast<int>(failures.size()) < lo.max_failures) {
    LG_ASSIGN_OR_RETURN(auto events, ops.ListRiskEvents(account_id, since, lo.max_failures + 32));
    for (const auto& e : events) {
      if (!protocol::ParseFlowType(e.event_type)) continue;  // admin events do not count
      if (e.success) break;  // a success ends the run of failures
      failures.push_back(e.at);
      if (static_cast<int>(failures.size()) == lo.max_failures) break;
    }
  }
  if (static_cast<int>(failures.size()) < lo.max_failures) {
    return std::optional<storage::Timestamp>();
  }
  if (failures.front() - failures.back() > std::chrono::seconds(lo.window_seconds)) {
    return std::optional<storage::Timestamp>();
  }
  const auto until = failures.front() + std::chrono::seconds(lo.lockout_seconds);
  if (until <= now) return std::optional<storage::Timestamp>();
  return std::optional<storage::Timestamp>(until);
}

Result<bool> Service::IsLockedOut(const std::string& account_id) {
  LG_ASSIGN_OR_RETURN(auto until, LockedUntil(account_id));
  return until.has_value();
}

Status Service::CheckNotLockedOut(const std::string& account_id) {
  LG_ASSIGN_OR_RETURN(bool locked, IsLockedOut(account_id));
  return locked ? LockedOut() : Status::Ok();
}

Status Service::TakeFlowForCheck(storage::FlowState* flow, int from, int to,
                                 const Status& not_waiting) {
  StepTimer t(timings_.database_ns);
  return deps_.store->Transact([&](storage::StoreOps& ops) -> Status {
    // One account id at a time: the lockout read and the take below are
    // atomic against every other check of this account id, in any process.
    LG_RETURN_IF_ERROR(ops.GuardAccount(flow->account_id));
    auto current = ops.GetFlow(flow->flow_id);
    if (!current.ok()) return current.status();
    if (current->step != from || current->version != flow->version) return not_waiting;
    LG_ASSIGN_OR_RETURN(int in_flight, ops.CountOpenFlows(flow->account_id, InFlightSteps()));
    LG_ASSIGN_OR_RETURN(auto until, LockedUntilIn(ops, flow->account_id, in_flight));
    // Locked: the flow stays where it was and nothing is checked or recorded.
    if (until) return LockedOut();
    storage::FlowState taken = *flow;
    taken.step = to;
    auto v = ops.UpdateFlow(taken);  // compare-and-set on the version read above
    if (!v.ok()) return v.status().reason() == "storage.flow_conflict" ? not_waiting : v.status();
    flow->step = to;
    flow->version = *v;
    return Status::Ok();
  });
}

void Service::SpendFlow(storage::FlowState flow) {
  StepTimer t(timings_.database_ns);
  flow.step = kStepSpent;
  if (auto v = deps_.store->UpdateFlow(flow); !v.ok()) {
    LogEvent(LogLevel::kError, "flow.spend_failed", {{"reason", v.status().reason()}});
  }
}

Status Service::RecordFailure(const std::string& account_id, const std::string& device_id,
                              const std::string& flow_type, const std::vector<std::string>& reasons,
                              const std::string& remote, const storage::FlowState* spent_flow) {
  // Decision 11.9: every failed attempt counts against the account id it
  // named, whether or not the account exists (no early return for unknown
  // ids: the same statements run either way, so the answer's timing does
  // not tell them apart either). Events of unknown ids are purged once the
  // lockout no longer needs them (PurgeOrphanRiskEvents).
  std::string codes;
  for (const auto& r : reasons) codes += (codes.empty() ? "" : ",") + r;
  std::optional<StepTimer> t(std::in_place, timings_.database_ns);
  Status st = deps_.store->Transact([&](storage::StoreOps& ops) {
    if (spent_flow != nullptr) {
      storage::FlowState spent = *spent_flow;
      spent.step = kStepSpent;
      // A flow that expired (or was purged) while its proof was checked has
      // nothing left to spend; the failure still counts (a guess timed to
      // land on the expiry must not go unrecorded).
      auto v = ops.UpdateFlow(spent);
      if (!v.ok() && v.status().reason() != "storage.flow_expired" &&
          v.status().reason() != "storage.flow_not_found") {
        return v.status();
      }
    }
    storage::RiskEvent ev;
    ev.account_id = account_id;
    ev.device_id = device_id;
    ev.event_type = flow_type;
    ev.success = false;
    ev.network = NetworkLabel(remote);
    ev.reason_codes = codes;
    ev.at = Now();
    LG_RETURN_IF_ERROR(ops.AppendRiskEvent(ev));
    // The consecutive-failure counter of a known account (admin view).
    auto n = ops.RecordAccountFailure(account_id);
    if (!n.ok() && n.status().reason() != "storage.account_not_found") return n.status();
    return Status::Ok();
  });
  t.reset();  // LockedUntil times itself
  if (st.ok()) {
    auto until = LockedUntil(account_id);
    if (until.ok() && *until) {
      LogEvent(LogLevel::kWarn, "account.locked", {{"account_id", account_id}});
    }
  }
  return st;
}

Result<int> Service::PurgeExpired() {
  StepTimer t(timings_.database_ns);
  LG_ASSIGN_OR_RETURN(int a, deps_.store->PurgeExpired());
  const auto& lo = deps_.policy.lockout;
  LG_ASSIGN_OR_RETURN(
      int b, deps_.store->PurgeOrphanRiskEvents(
                 Now() - std::chrono::seconds(lo.window_seconds + lo.lockout_seconds)));
  return a + b;
}

// ------------------------------------------------------ 1. start (SRP B)

ApiResponse Service::StartFlow(const ApiRequest& r) {
  const std::string op = "flow.start";
  if (auto st = CheckRate(per_address_, r.remote_addr, "address"); !st.ok()) return Refuse(st, op, r);
  protocol::MessageLimits ml;
  auto req = protocol::ParseStartFlowRequest(r.body, ml);
  if (!req.ok()) return Refuse(req.status(), op, r);
  const std::string type_name(protocol::FlowTypeName(req->flow));
  const std::string fop = "flow." + type_name + ".start";
  if (auto st = CheckRate(per_account_, req->account_id, "account"); !st.ok()) {
    return Refuse(st, fop, r, req->account_id);
  }
  if (!req->device_id.empty()) {
    if (auto st = CheckRate(per_device_, req->device_id, "device"); !st.ok()) {
      return Refuse(st, fop, r, req->account_id);
    }
  }
  // Lockout (decision 11.9) before any credential is tried.
  auto locked = IsLockedOut(req->account_id);
  if (!locked.ok()) return Refuse(locked.status(), fop, r, req->account_id);
  if (*locked) return Refuse(LockedOut(), fop, r, req->account_id);

  // R-FLOW-REG-2 / DER-2: the account password verifier; R-FLOW-AUT-2: the
  // device credential (decision 11.6). Anything missing -> an indistinguishable
  // fake session that can only fail (R-SRP-5 practice).
  std::string identity = req->account_id;
  crypto::Bytes salt, verifier;
  std::string group_name = deps_.srp.default_group;
  bool known = false;
  {
    StepTimer t(timings_.database_ns);
    auto account = deps_.store->GetAccount(req->account_id);
    const bool account_ok = account.ok() && account->state == storage::AccountState::kActive;
    if (req->flow == FlowType::kAuthentication) {
      // R-SEC-SRV-2: the client is identified by its device id and that device's SRP verifier.
      identity = req->device_id;
      auto device = deps_.store->GetDevice(req->device_id);
      if (account_ok && device.ok() && device->account_id == req->account_id) {
        known = true;
        salt = device->srp_salt;
        verifier = device->srp_verifier;
        group_name = device->srp_group;
      }
    } else if (account_ok) {
      // R-FLOW-REG-0, R-FLOW-DER-0: registration and deregistration prove the account password.
      known = true;
      salt = account->srp_salt;
      verifier = account->srp_verifier;
      group_name = account->srp_group;
    }
  }
  crypto::SrpPolicy sp;
  sp.allowed_groups = deps_.srp.allowed_groups;
  sp.allowed_hashes = {deps_.srp.hash};
  Result<crypto::SrpServerSession> session = Status::Internal("srp.unset", "");
  {
    StepTimer t(timings_.crypto_ns);
    auto group = crypto::SrpGroup::Create({known ? group_name : deps_.srp.default_group, deps_.srp.hash}, sp);
    if (!group.ok() && known) {  // a verifier under a group no longer allowed
      known = false;
      group = crypto::SrpGroup::Create({deps_.srp.default_group, deps_.srp.hash}, sp);
    }
    if (!group.ok()) return Refuse(group.status(), fop, r, req->account_id);
    session = known ? crypto::SrpServerSession::Start(*group, identity, salt, verifier)
                    : crypto::SrpServerSession::StartUnknown(*group, identity, fake_srp_secret_);
  }
  if (!session.ok()) return Refuse(session.status(), fop, r, req->account_id);

  const std::string flow_id = crypto::HexEncode(crypto::RandomBytes(16));
  const crypto::Bytes channel_id = crypto::RandomBytes(crypto::kChannelIdSize);
  const crypto::Bytes server_nonce = crypto::RandomBytes(crypto::kServerNonceSize);
  json state{{"flow", type_name},
             {"account_id", req->account_id},
             {"device_id", req->device_id},
             {"unknown", !known},
             {"srp", B64(session->Serialize())},
             {"channel_id", B64(channel_id)},
             {"server_nonce", B64(server_nonce)},
             {"network", NetworkLabel(r.remote_addr)}};
  auto sealed = SealFlowState(flow_id, state);
  if (!sealed.ok()) return Refuse(sealed.status(), fop, r, req->account_id);
  storage::FlowState row;
  row.flow_id = flow_id;
  row.flow_type = type_name;
  row.step = kStepStarted;
  row.account_id = req->account_id;
  row.channel_state = std::move(sealed).value();
  row.created = Now();
  row.expires_at = row.created + std::chrono::seconds(deps_.limits.flow_lifetime_seconds);
  {
    // R-SEC-SRV-1: at most max_open_flows_per_account open flows per account
    // id, known or not (the same statements either way), counted in the
    // database and added under the account's guard, so concurrent starts on
    // any number of processes cannot pass the cap together. A start beyond
    // it is refused; open flows are never evicted (a stranger's starts
    // cannot end a user's flow in progress).
    StepTimer t(timings_.database_ns);
    const int cap = deps_.limits.max_open_flows_per_account;
    Status created = deps_.store->Transact([&](storage::StoreOps& ops) -> Status {
      LG_RETURN_IF_ERROR(ops.GuardAccount(req->account_id));
      LG_ASSIGN_OR_RETURN(int open, ops.CountOpenFlows(req->account_id, OpenFlowSteps()));
      if (open >= cap) return TooManyOpenFlows(cap);
      return ops.CreateFlow(row).status();
    });
    if (!created.ok()) return Refuse(created, fop, r, req->account_id);
  }
  Audit({"client", fop, req->account_id, req->device_id, flow_id, "ok", {}, r.remote_addr});
  deps_.metrics->Increment("livegate_flows_started_total", "flow=\"" + type_name + "\"");

  protocol::StartFlowResponse resp;
  resp.flow_id = flow_id;
  resp.srp_group = session->suite().group;
  resp.srp_hash = session->suite().hash;
  resp.salt = session->salt();
  resp.B = session->B();
  resp.channel_id = channel_id;
  resp.server_nonce = server_nonce;
  resp.expires_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           row.expires_at.time_since_epoch()).count();
  return JsonResponse(200, protocol::ToJson(resp));
}

// --------------------------------------------------- 2. verify (M1 / M2)

ApiResponse Service::VerifyFlow(const ApiRequest& r) {
  const std::string& flow_id = r.captures.at(0);
  std::string op = "flow.verify";
  if (auto st = CheckRate(per_address_, r.remote_addr, "address"); !st.ok()) return Refuse(st, op, r);
  auto ctx = LoadFlow(flow_id);
  if (!ctx.ok()) return Refuse(ctx.status(), op, r, "", flow_id);
  op = "flow." + ctx->row.flow_type + ".verify";
  const std::string account = ctx->row.account_id;
  const std::string device = ctx->state.value("device_id", "");
  if (ctx->row.step != kStepStarted) return Refuse(ProofNotAccepted(), op, r, account, flow_id);
  auto req = protocol::ParseVerifyRequest(r.body);
  if (!req.ok()) return Refuse(req.status(), op, r, account, flow_id);

  // R-SEC-SRV-1 / decision 11.9: the lockout is checked here too, not only
  // at the start (flows started before the lockout must not carry guesses
  // past it), and the flow is taken (started -> verifying) before its proof
  // is checked: exactly one proof per flow is evaluated, even when many
  // arrive at once on several processes, and every other one gets
  // ProofNotAccepted whatever it holds.
  if (Status taken = TakeFlowForCheck(&ctx->row, kStepStarted, kStepVerifying, ProofNotAccepted());
      !taken.ok()) {
    return Refuse(FlowStatusFromStorage(taken), op, r, account, flow_id);
  }

  crypto::SrpPolicy sp;
  sp.allowed_groups = deps_.srp.allowed_groups;
  sp.allowed_hashes = {deps_.srp.hash};
  Result<crypto::Bytes> m2 = Status::Internal("srp.unset", "");
  crypto::Bytes key;
  {
    StepTimer t(timings_.crypto_ns);
    auto session = crypto::SrpServerSession::Restore(UnB64(ctx->state.at("srp")), sp);
    if (!session.ok()) {
      SpendFlow(ctx->row);  // taken but uncheckable: end it, so it stops counting as in flight
      return Refuse(session.status(), op, r, account, flow_id);
    }
    m2 = session->VerifyClient(req->A, req->M1);
    if (m2.ok()) key = session->session_key();
  }
  if (!m2.ok() || ctx->state.value("unknown", true)) {
    // One attempt per flow: the flow is spent and the failure counts (11.9),
    // in one transaction. Known or unknown credential alike (the same
    // lockout for both). Should it fail, the flow stays `verifying` and goes
    // on counting as a failure until it expires.
    if (auto st = RecordFailure(account, ctx->type == FlowType::kAuthentication ? device : "",
                                ctx->row.flow_type, {"srp.failed"}, r.remote_addr, &ctx->row);
        !st.ok()) {
      LogEvent(LogLevel::kError, "risk.record_failed", {{"reason", st.reason()}});
    }
    AuditEvent e{"client", op, account, device, flow_id, "refused",
                 {m2.ok() ? std::string("srp.unknown_credential") : m2.status().reason()},
                 r.remote_addr};
    Audit(e);
    deps_.metrics->Increment("livegate_refusals_total", "reason=\"auth.failed\"");
    return ErrorResponse(AuthFailed());
  }
  crypto::ChannelOptions co;
  co.timestamp_window_ms = static_cast<std::int64_t>(deps_.limits.replay_window_seconds) * 1000;
  co.lifetime_ms = static_cast<std::int64_t>(deps_.limits.flow_lifetime_seconds) * 1000;
  co.max_body_bytes = deps_.limits.max_body_bytes;
  Result<crypto::SealedChannel> channel = Status::Internal("seal.unset", "");
  {
    StepTimer t(timings_.crypto_ns);
    channel = crypto::SealedChannel::Create(key, UnB64(ctx->state.at("channel_id")),
                                            UnB64(ctx->state.at("server_nonce")),
                                            crypto::ChannelRole::kServer, co,
                                            [this] { return NowMs(); });
    crypto::Cleanse(key);
  }
  if (!channel.ok()) {
    SpendFlow(ctx->row);
    return Refuse(channel.status(), op, r, account, flow_id);
  }
  ctx->state.erase("srp");
  ctx->state["channel"] = B64(channel->Serialize());
  auto sealed = SealFlowState(flow_id, ctx->state);
  if (!sealed.ok()) {
    SpendFlow(ctx->row);
    return Refuse(sealed.status(), op, r, account, flow_id);
  }
  ctx->row.channel_state = std::move(sealed).value();
  ctx->row.step = kStepChannel;
  {
    StepTimer t(timings_.database_ns);
    auto v = deps_.store->UpdateFlow(ctx->row);
    if (!v.ok()) return Refuse(v.status(), op, r, account, flow_id);
  }
  Audit({"client", op, account, device, flow_id, "ok", {}, r.remote_addr});
  return JsonResponse(200, protocol::ToJson(protocol::VerifyResponse{*m2}));
}

}  // namespace livegate::server
