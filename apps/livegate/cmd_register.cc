// `livegate register`: Register your face for an account (X.1279 registration flow).
// Options, exit codes and output: docs/CLI.md.
#include "client/cli_flow.h"
#include "command.h"

namespace {
livegate::client_cli::FlowCommandOptions g_options;

livegate::cli::Registration reg([](CLI::App& app) {
  auto* cmd = app.add_subcommand("register", "Register your face for an account (X.1279 registration flow)");
  livegate::client_cli::AddFlowOptions(cmd, g_options, /*needs_password=*/true);
  cmd->callback([] {
    livegate::cli::SetExitCode(
        livegate::client_cli::RunFlowCommand(livegate::client_cli::FlowKind::kRegister, g_options));
  });
});
}  // namespace
