// Master key(s) from the configuration: see master_key.h.
#include "server/master_key.h"

#include <cstdlib>

namespace livegate::server {

crypto::KeyManagerOptions MasterKeyManagerOptions(const MasterKeyOptions& m) {
  crypto::KeyManagerOptions ko;
  ko.key_file = m.file.string();
  if (!m.env.empty()) ko.env_var = m.env;
  ko.previous_key_file = m.previous_file.string();
  if (!m.previous_env.empty()) ko.previous_env_var = m.previous_env;
  return ko;
}

Result<crypto::KeyManager> LoadMasterKeys(const MasterKeyOptions& m) {
  if (!m.previous_env.empty()) {
    const char* v = std::getenv(m.previous_env.c_str());
    if (v == nullptr || *v == '\0') {
      return Status::NotFound("keys.kek_missing",
                              "master_key.previous_env names " + m.previous_env +
                                  ", which is not set (remove the setting once rotation is done)");
    }
  }
  return crypto::KeyManager::Load(MasterKeyManagerOptions(m));
}

}  // namespace livegate::server
