// The thresholds `livegate eval pad` calibrates, and the leave-one-source-
// out cross-validation over cached observations (issue 13).
//
// JudgeLiveness is pure over observations (docs/ANTISPOOFING.md), so each
// session is observed once and re-judged under any policy. For every row of
// the threshold table, a session's *critical value* is the value of that
// policy field at which the row's refusal reasons appear (found by
// bisection between the row's permissive and strict ends, the other fields
// at the base policy and the row's `isolate` overrides). The calibration
// rule (src/eval/calibration.h) turns the critical values of the training
// sessions into a threshold.
//
// Adding a threshold = adding a row to PadThresholdTable() (pad_calibration.cc):
//   {field "section.name" as in the policy JSON, measure (words), reasons it
//    governs (prefixes of CheckResult::reason), permissive/strict search
//    ends, isolate overrides, the CalibrationRule (strictness, margins,
//    attack types, conflict policy), and what a wrong value costs}.
// The getter/setter go through the policy JSON (PolicyToJson/PolicyFromJson
// with the field's dotted name), so no code beyond the row is needed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "eval/calibration.h"
#include "judgement/eval_session.h"
#include "judgement/judgement.h"

namespace livegate::eval {

struct ThresholdRow {
  std::string field;    // dotted policy JSON name, e.g. "geometry.min_parallax"
  std::string measure;  // what a session's critical value is, in words
  // Refusal reasons the field governs (prefix match on CheckResult::reason
  // of failed checks). A session is "refused by this threshold" when a check
  // fails with one of them.
  std::vector<std::string> reasons;
  double permissive = 0, strict = 0;  // bisection range ends (field values)
  bool integer = false;               // an int policy field
  // Other fields set while this row's critical values are measured, so that
  // the row's reasons are not hidden by another field of the same check
  // (e.g. the mouth disabled while the blink ratio is measured on the
  // photo check's "blink or mouth" evidence).
  std::map<std::string, double> isolate;
  CalibrationRule rule;
  std::string data;              // what it is calibrated on (docs)
  std::string cost_when_wrong;   // too permissive / too strict (docs)
};

// The table (one place; docs/ANTISPOOFING.md "Calibration rules" mirrors it).
const std::vector<ThresholdRow>& PadThresholdTable();

// Policy thresholds deliberately not calibrated, with the reason (docs).
struct FixedThreshold {
  std::string field, reason;
};
const std::vector<FixedThreshold>& PadFixedThresholds();

// Reads / writes a numeric policy field by its dotted JSON name.
// Reasons: policy.unknown_key (no such field), policy.bad_value.
Result<double> GetPolicyField(const judgement::Policy& policy, const std::string& field);
Result<judgement::Policy> SetPolicyField(const judgement::Policy& policy, const std::string& field, double value);

// A judged session with its cached observations.
struct ObservedSession {
  judgement::EvalSession session;
  std::vector<judgement::FrameObservation> observations;
  bool fta = false;     // failed to acquire: no PAD decision (30107-3)
  std::string error;    // load/analysis failure: counted as a refusal
};

// True when `verdict` refuses for one of `reasons`.
bool RefusedFor(const judgement::LivenessVerdict& verdict, const std::vector<std::string>& reasons);

// The critical value of one session for one row (judges the observations
// ~30 times). kAlwaysPasses / kAlwaysRefused when the row cannot move the
// session. Sessions with an error or FTA: kAlwaysPasses (no vote).
Result<ThresholdSample> CriticalValue(const ThresholdRow& row, const ObservedSession& s,
                                      const judgement::Policy& base);

// Every row's critical values for every session: [row][session].
Result<std::vector<std::vector<ThresholdSample>>> CriticalValues(const std::vector<ThresholdRow>& rows,
                                                                 const std::vector<ObservedSession>& sessions,
                                                                 const judgement::Policy& base);

// One calibrated policy: every row's rule applied to the samples whose
// index is in `train`; results per row.
struct CalibratedPolicy {
  judgement::Policy policy;
  std::vector<CalibrationResult> rows;  // parallel to the table
};
Result<CalibratedPolicy> CalibratePolicy(const std::vector<ThresholdRow>& rows,
                                         const std::vector<std::vector<ThresholdSample>>& critical,
                                         const std::vector<std::size_t>& train, const judgement::Policy& base);

// Leave-one-source-out: per fold, the policy calibrated without the
// held-out source, and the held-out sessions' verdicts under it.
struct CvFold {
  std::string held_out;
  std::vector<std::size_t> test;
  CalibratedPolicy calibrated;
};
struct CvResult {
  std::vector<CvFold> folds;
  // Per session (index into the sessions): the verdict when its source was
  // held out.
  std::vector<judgement::LivenessVerdict> verdicts;
};
Result<CvResult> CrossValidateBySource(const std::vector<ThresholdRow>& rows,
                                       const std::vector<std::vector<ThresholdSample>>& critical,
                                       const std::vector<ObservedSession>& sessions,
                                       const judgement::Policy& base);

}  // namespace livegate::eval
