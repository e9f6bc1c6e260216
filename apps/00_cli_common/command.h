// Subcommands of the `livegate` CLI register themselves, one file each
// (cmd_<name>.cc), so adding a command never edits a shared file.
//
//   static livegate::cli::Registration reg([](CLI::App& app) {
//     auto* cmd = app.add_subcommand("analyze", "...");
//     ...
//     cmd->callback([...] { livegate::cli::Exit(RunAnalyze(...)); });
//   });
#pragma once

#include <functional>
#include <iostream>
#include <vector>

#include <CLI/CLI.hpp>

namespace livegate::cli {

using CommandAdder = std::function<void(CLI::App&)>;

std::vector<CommandAdder>& Registry();

struct Registration {
  explicit Registration(CommandAdder adder) { Registry().push_back(std::move(adder)); }
};

// Documented exit codes (docs/CLI.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitRefused = 1,      // a decision: not live, no match, refused by the server
  kExitUsage = 2,        // bad command line
  kExitBadInput = 3,     // unreadable / corrupt / unsupported input file
  kExitUnavailable = 4,  // server or models unavailable
  kExitInternal = 5,
};

// Set by a command's callback; main() returns it.
void SetExitCode(int code);
int GetExitCode();

// Parses argv against every registered command and returns the exit code.
int RunMain(const char* description, int argc, char** argv);

}  // namespace livegate::cli
