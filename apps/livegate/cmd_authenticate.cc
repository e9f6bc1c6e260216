// `livegate authenticate`: Authenticate with your face on this device (X.1279 authentication flow).
// Options, exit codes and output: docs/CLI.md.
#include "client/cli_flow.h"
#include "command.h"

namespace {
livegate::client_cli::FlowCommandOptions g_options;

livegate::cli::Registration reg([](CLI::App& app) {
  auto* cmd = app.add_subcommand("authenticate", "Authenticate with your face on this device (X.1279 authentication flow)");
  livegate::client_cli::AddFlowOptions(cmd, g_options, /*needs_password=*/false);
  cmd->callback([] {
    livegate::cli::SetExitCode(
        livegate::client_cli::RunFlowCommand(livegate::client_cli::FlowKind::kAuthenticate, g_options));
  });
});
}  // namespace
