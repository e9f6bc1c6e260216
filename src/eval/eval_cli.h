// The `livegate eval` command group, shared by every evaluation subcommand
// (`eval verify` in apps/livegate/cmd_eval_verify.cc, `eval pad`, ...).
// Each cmd_eval_*.cc registers itself independently and in no defined order,
// so each must get-or-create the group through EvalGroup(): adding "eval"
// twice would make CLI11 throw at start-up. Header-only; included by apps
// only (src/eval itself does not depend on CLI11).
#pragma once

#include <CLI/CLI.hpp>

namespace livegate::eval {

inline CLI::App* EvalGroup(CLI::App& app) {
  auto found = app.get_subcommands([](CLI::App* a) { return a->get_name() == "eval"; });
  if (!found.empty()) return found.front();
  auto* eval = app.add_subcommand("eval", "Evaluation runs that print figures (accuracy, PAD error rates)");
  eval->require_subcommand(1);
  return eval;
}

}  // namespace livegate::eval
