// `livegate-admin`: operator tools (audit verification, key rotation,
// account provisioning, batch import). One cmd_*.cc per subcommand.
#include "command.h"

int main(int argc, char** argv) {
  return livegate::cli::RunMain("livegate-admin - operator tools for a livegate server", argc, argv);
}
