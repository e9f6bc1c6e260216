// `livegate deregister`: Delete your face references and this device's credential (X.1279 deregistration flow; opt-out).
// Options, exit codes and output: docs/CLI.md.
#include "client/cli_flow.h"
#include "command.h"

namespace {
livegate::client_cli::FlowCommandOptions g_options;

livegate::cli::Registration reg([](CLI::App& app) {
  auto* cmd = app.add_subcommand("deregister", "Delete your face references and this device's credential (X.1279 deregistration flow; opt-out)");
  livegate::client_cli::AddFlowOptions(cmd, g_options, /*needs_password=*/true);
  cmd->callback([] {
    livegate::cli::SetExitCode(
        livegate::client_cli::RunFlowCommand(livegate::client_cli::FlowKind::kDeregister, g_options));
  });
});
}  // namespace
