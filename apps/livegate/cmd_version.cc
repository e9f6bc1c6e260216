#include <iostream>

#include "command.h"

namespace {
livegate::cli::Registration reg([](CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the version");
  cmd->callback([] { std::cout << "livegate 0.1.0\n"; });
});
}  // namespace
