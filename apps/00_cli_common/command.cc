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

int RunMain(const char* description, int argc, char** argv) {
  CLI::App app{description};
  app.require_subcommand(1);
  for (const auto& add : Registry()) add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << app.get_name() << ": internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  return GetExitCode();
}

}  // namespace livegate::cli
