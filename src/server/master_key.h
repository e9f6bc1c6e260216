// The server's master key(s) from the configuration (R-SEC-STO-1/2): the
// current KEK and, during rotation, the previous one (docs/SECURITY.md
// "Rotation without downtime"). From a file (mode 0600 or stricter,
// crypto::KeyManager::ReadKeyFile), a file descriptor (read once, closed),
// or an environment variable - which is then wiped from the process
// (issue 12, finding 8: no key in /proc/<pid>/environ).
#pragma once

#include <string>

#include "crypto/key_manager.h"
#include "livegate/status.h"
#include "server/config.h"

namespace livegate::server {

// The crypto options for `m`: previous_file / previous_env when given, else
// the LIVEGATE_MASTER_KEY_PREVIOUS default (read only when set).
crypto::KeyManagerOptions MasterKeyManagerOptions(const MasterKeyOptions& m);

// Loads the keys. Reasons: those of crypto::KeyManager::Load
// (keys.kek_missing, keys.kek_file_permissions, keys.kek_malformed), and
// keys.kek_missing when master_key.previous_env names a variable that is
// not set (an explicit rotation setting must not be silently ignored), or
// when master_key.fd is not open or yields nothing.
// Every environment variable a key was read from (current and previous) is
// wiped afterwards, success or not (ScrubEnvironmentVariable).
Result<crypto::KeyManager> LoadMasterKeys(const MasterKeyOptions& m);

// Overwrites the value of environment variable `name` in place with zero
// bytes (the initial environment's memory is what /proc/<pid>/environ
// shows, and unsetenv alone leaves it there), then unsets it. No-op when
// unset.
void ScrubEnvironmentVariable(const std::string& name);

}  // namespace livegate::server
