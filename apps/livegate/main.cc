// `livegate`: the client CLI (register / authenticate / deregister) and the
// analysis and evaluation tools (analyze, compare, eval ...). Each subcommand
// lives in its own cmd_*.cc and registers itself (command.h).
#include <iostream>

#include "command.h"

namespace livegate::cli {

std::vector<CommandAdder>& Registry() {
  static std::vector<CommandAdder> registry;
  return registry;
}

namespace {
int g_exit_code = kExitOk;
}
void SetExitCode(int code) { g_exit_code = code; }
int GetExitCode() { return g_exit_code; }

}  // namespace livegate::cli

int main(int argc, char** argv) {
  CLI::App app{"livegate - remote face authentication with anti-spoofing (ITU-T X.1279)"};
  app.require_subcommand(1);
  for (const auto& add : livegate::cli::Registry()) add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : livegate::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "livegate: internal error: " << e.what() << "\n";
    return livegate::cli::kExitInternal;
  }
  return livegate::cli::GetExitCode();
}
