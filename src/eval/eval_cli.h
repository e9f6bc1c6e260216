// The `livegate eval` command group, shared by every evaluation subcommand
// (`eval verify` in apps/livegate/cmd_eval_verify.cc, `eval pad`, ...).
// Each cmd_eval_*.cc registers itself independently and in no defined order,
// so each must get-or-create the group through EvalGroup(): adding "eval"
// twice would make CLI11 throw at start-up. Also the manifest loading they
// share. Header-only; included by apps
// only (src/eval itself does not depend on CLI11).
#pragma once

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "judgement/eval_session.h"

namespace livegate::eval {

inline CLI::App* EvalGroup(CLI::App& app) {
  auto found = app.get_subcommands([](CLI::App* a) { return a->get_name() == "eval"; });
  if (!found.empty()) return found.front();
  auto* eval = app.add_subcommand("eval", "Evaluation runs that print figures (accuracy, PAD error rates)");
  eval->require_subcommand(1);
  return eval;
}

// A whole file as bytes; *ok false when it cannot be opened.
inline std::string ReadWholeFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = bool(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads and parses the PAD session manifests named on the command line
// (judgement/eval_session.h). On failure it prints "<command>: <why>" and
// returns nullopt: the caller exits with kExitBadInput.
inline std::optional<std::vector<judgement::EvalSession>> LoadManifests(const std::vector<std::string>& paths,
                                                                        const std::string& command) {
  std::vector<std::string> texts;
  for (const auto& m : paths) {
    bool ok = false;
    texts.push_back(ReadWholeFile(m, &ok));
    if (!ok) {
      std::cerr << command << ": cannot read manifest " << m << "\n";
      return std::nullopt;
    }
  }
  auto sessions = judgement::ParseEvalManifests(texts);
  if (!sessions.ok()) {
    std::cerr << command << ": " << sessions.status().ToString() << "\n";
    return std::nullopt;
  }
  return std::move(sessions).value();
}

}  // namespace livegate::eval
