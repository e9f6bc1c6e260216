// `livegate`: the client CLI (register / authenticate / deregister) and the
// analysis and evaluation tools (analyze, compare, eval ...). Each subcommand
// lives in its own cmd_*.cc and registers itself (apps/00_cli_common/command.h).
#include "command.h"

int main(int argc, char** argv) {
  return livegate::cli::RunMain(
      "livegate - remote face authentication with anti-spoofing (ITU-T X.1279)", argc, argv);
}
