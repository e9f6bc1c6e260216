// Scripted-challenge hook (issue 5): see scripted_challenges.h.
#include "server/scripted_challenges.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "judgement/judgement.h"

namespace livegate::server {

Status CheckScriptedChallengesAllowed(const std::filesystem::path& dir,
                                      const judgement::Policy& judgement_policy) {
  if (dir.empty() || judgement_policy.challenge.allow_scripted) return Status::Ok();
  return Status(StatusCode::kInvalidArgument, "config.scripted_not_allowed",
                "testing.scripted_challenges_dir is set but the judgement policy does not have "
                "challenge.allow_scripted: true (scripted challenges are for tests and evaluation "
                "only; production leaves the testing section out)");
}

Result<judgement::Policy> LoadJudgementPolicy(const ServerConfig& config) {
  judgement::Policy policy;
  if (!config.judgement_policy_file.empty()) {
    std::ifstream in(config.judgement_policy_file, std::ios::binary);
    if (!in) {
      return Status::BadInput("config.unreadable", "cannot read judgement_policy_file " +
                                                       config.judgement_policy_file.string());
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto p = judgement::PolicyFromJson(ss.str());
    if (!p.ok()) {
      return Status(p.status().code(), p.status().reason(),
                    config.judgement_policy_file.string() + ": " + p.status().message());
    }
    policy = std::move(p).value();
  }
  LG_RETURN_IF_ERROR(CheckScriptedChallengesAllowed(config.testing.scripted_challenges_dir, policy));
  return policy;
}

Result<std::optional<ScriptedChallenge>> FindScriptedChallenge(const std::filesystem::path& dir,
                                                               std::string_view account_id,
                                                               std::string_view flow) {
  if (dir.empty() || account_id.empty() || account_id.find('/') != std::string_view::npos) {
    return std::optional<ScriptedChallenge>();
  }
  const std::string account(account_id);
  const std::filesystem::path candidates[] = {
      dir / (account + "." + std::string(flow) + ".json"),
      dir / (account + ".json"),
  };
  for (const auto& file : candidates) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) continue;
    std::ifstream in(file, std::ios::binary);
    if (!in || !std::filesystem::is_regular_file(file, ec)) {
      return Status(StatusCode::kFailedPrecondition, "challenge.scripted_unreadable",
                    "cannot read scripted challenge file " + file.string());
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto c = judgement::ChallengeFromJson(ss.str());
    if (!c.ok()) {
      return Status(StatusCode::kFailedPrecondition, "challenge.scripted_bad_file",
                    "scripted challenge file " + file.string() + ": " + c.status().reason() +
                        ": " + c.status().message());
    }
    ScriptedChallenge sc{std::move(c).value(), file, &file == &candidates[0]};
    sc.challenge.scripted = true;  // whatever the file says: it was written by a test
    return std::optional<ScriptedChallenge>(std::move(sc));
  }
  return std::optional<ScriptedChallenge>();
}

}  // namespace livegate::server
