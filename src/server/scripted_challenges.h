// Scripted-challenge hook for tests and evaluation with real client
// processes (issue 5). Production draws a random challenge per session
// (R-SRV-ASJ-3, decision 11.1); a recorded video cannot follow random
// instructions, so an end-to-end test names, per account and flow, the
// challenge its recording answers. Three locks keep this out of production:
//   1. the configuration section testing.scripted_challenges_dir is absent
//      in production (config/server.example.json);
//   2. start-up refuses the section unless the judgement policy has
//      challenge.allow_scripted (config.scripted_not_allowed);
//   3. every loaded challenge is marked scripted, which the judgement
//      refuses unless its policy allows it (challenge.scripted_not_allowed).
// Each use is written to the audit trail. docs/API.md "Scripted challenges".
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "judgement/policy.h"
#include "judgement/types.h"
#include "livegate/status.h"
#include "server/config.h"

namespace livegate::server {

// Reasons: config.scripted_not_allowed when `dir` is set and the judgement
// policy does not allow scripted challenges.
Status CheckScriptedChallengesAllowed(const std::filesystem::path& dir,
                                      const judgement::Policy& judgement_policy);

// The judgement policy the configuration names (the judgement's defaults
// when judgement_policy_file is empty), checked against the testing
// section. Reasons: config.unreadable, policy.* (judgement/policy.h),
// config.scripted_not_allowed.
Result<judgement::Policy> LoadJudgementPolicy(const ServerConfig& config);

struct ScriptedChallenge {
  judgement::Challenge challenge;  // scripted = true whatever the file says
  std::filesystem::path file;      // where it came from (error messages)
  bool per_flow = false;           // true: <account>.<flow>.json matched (audit)
};

// Looks for DIR/<account_id>.<flow>.json, then DIR/<account_id>.json, read
// now (tests may rewrite the files between flows). nullopt when neither
// exists. `flow` is "registration", "authentication" or "deregistration".
// Account ids hold only letters, digits and . _ - @ : (protocol CheckId),
// so the names cannot leave DIR. Reasons: challenge.scripted_unreadable,
// challenge.scripted_bad_file (the message names the file and the
// judgement's reason).
Result<std::optional<ScriptedChallenge>> FindScriptedChallenge(const std::filesystem::path& dir,
                                                               std::string_view account_id,
                                                               std::string_view flow);

}  // namespace livegate::server
