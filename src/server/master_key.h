// The server's master key(s) from the configuration (R-SEC-STO-1/2): the
// current KEK and, during rotation, the previous one (docs/SECURITY.md
// "Rotation without downtime"). Both files must be mode 0600 or stricter
// (crypto::KeyManager::ReadKeyFile).
#pragma once

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
// not set (an explicit rotation setting must not be silently ignored).
Result<crypto::KeyManager> LoadMasterKeys(const MasterKeyOptions& m);

}  // namespace livegate::server
