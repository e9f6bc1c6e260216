// `livegate-admin keys ...` (R-SEC-STO-1/2): master-key (KEK) handling.
//   keys generate-kek --out FILE         new random KEK, mode 0600
//   keys init --key-dir DIR [--dns N]... [--ip A]...
//                                        demo TLS certificate + audit signing key
//   keys rotate --key-dir DIR --previous-key-file OLD
//               [--database sqlite:PATH|postgresql://...] [--config server.json]
//                                        re-wrap every KEK-wrapped key (key
//                                        directory and every user's data key in
//                                        the reference database) under the
//                                        current KEK (--key-file / LIVEGATE_MASTER_KEY)
// Rotation without downtime: (1) generate the new KEK; (2) restart servers
// one at a time with the new KEK as current and the old one as previous
// (both unwrap); (3) run `keys rotate`; (4) drop the previous KEK.
// The database URI comes from --database, else from the server config file
// (`database.uri`, the same value and opener the server uses); with neither,
// only the key directory is re-wrapped and a warning says so.
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "command.h"
#include "crypto/key_manager.h"
#include "crypto/key_store.h"
#include "server/config.h"
#include "storage/reference_store.h"
#include "storage/user_key_holder.h"

namespace {

using livegate::Status;
namespace cli = livegate::cli;
namespace crypto = livegate::crypto;

struct KeysOptions {
  std::string key_file;           // current KEK file ("" = LIVEGATE_MASTER_KEY)
  std::string previous_key_file;  // old KEK during rotation
  std::string previous_env;       // env variable of the old KEK ("" = LIVEGATE_MASTER_KEY_PREVIOUS)
  std::string key_env;            // env variable of the current KEK ("" = LIVEGATE_MASTER_KEY)
  std::string key_dir = "var/keys";
  std::string database;           // reference database URI (rotate)
  std::string config;             // server config file: database.uri, master_key (rotate)
  std::string out;
  std::vector<std::string> dns = {"localhost"};
  std::vector<std::string> ips = {"127.0.0.1"};
  bool json = false;
};

int Report(const Status& st) {
  std::cerr << "livegate-admin keys: " << st.ToString() << "\n";
  switch (st.code()) {
    case livegate::StatusCode::kBadInput:
    case livegate::StatusCode::kNotFound:
    case livegate::StatusCode::kFailedPrecondition:
    case livegate::StatusCode::kAlreadyExists:
      return cli::kExitBadInput;
    case livegate::StatusCode::kUnavailable:
      return cli::kExitUnavailable;
    default:
      return cli::kExitInternal;
  }
}

livegate::Result<crypto::KeyManager> LoadKeys(const KeysOptions& o) {
  crypto::KeyManagerOptions km;
  km.key_file = o.key_file;
  km.previous_key_file = o.previous_key_file;
  if (!o.previous_env.empty()) km.previous_env_var = o.previous_env;
  if (!o.key_env.empty()) km.env_var = o.key_env;
  return crypto::KeyManager::Load(km);
}

int RunGenerate(const KeysOptions& o) {
  const Status st = crypto::KeyManager::GenerateKeyFile(o.out);
  if (!st.ok()) return Report(st);
  std::cout << "wrote a new master key to " << o.out << " (mode 0600)\n";
  return cli::kExitOk;
}

int RunInit(const KeysOptions& o) {
  auto keys = LoadKeys(o);
  if (!keys.ok()) return Report(keys.status());
  crypto::TlsOptions t;
  t.key_dir = o.key_dir;
  t.dns_names = o.dns;
  t.ip_addresses = o.ips;
  auto tls = crypto::LoadOrCreateTlsMaterial(t, *keys);
  if (!tls.ok()) return Report(tls.status());
  auto audit = crypto::LoadOrCreateAuditSigningKey(o.key_dir, *keys);
  if (!audit.ok()) return Report(audit.status());
  std::cout << "TLS certificate: " << o.key_dir << "/tls_cert.pem\n"
            << "TLS private key (wrapped under KEK " << keys->current_kek_id()
            << "): " << o.key_dir << "/tls_key.wrapped\n"
            << "audit public key: " << o.key_dir << "/audit_signing.pub.pem\n";
  return cli::kExitOk;
}

int RunRotate(const KeysOptions& given) {
  KeysOptions o = given;
  if (!o.config.empty()) {
    auto cfg = livegate::server::LoadServerConfig(o.config);
    if (!cfg.ok()) return Report(cfg.status());
    if (o.database.empty()) o.database = cfg->database.uri;
    // The server's configured master key is the NEW one during rotation.
    if (o.key_file.empty()) {
      o.key_file = cfg->master_key.file.string();
      if (o.key_file.empty()) o.key_env = cfg->master_key.env;
    }
    // ... and its master_key.previous_* the OLD one, unless given here.
    if (o.previous_key_file.empty()) {
      o.previous_key_file = cfg->master_key.previous_file.string();
      o.previous_env = cfg->master_key.previous_env;
    }
  }
  auto keys = LoadKeys(o);
  if (!keys.ok()) return Report(keys.status());
  if (!keys->has_previous()) {
    return Report(Status(livegate::StatusCode::kFailedPrecondition, "keys.no_previous_kek",
                         "rotation needs the old master key: --previous-key-file, the config's "
                         "master_key.previous_file / previous_env, or LIVEGATE_MASTER_KEY_PREVIOUS"));
  }
  auto dir = crypto::KeyDirHolder(o.key_dir);
  std::vector<crypto::WrappedKeyHolder*> holders = {dir.get()};
  // Per-user data keys in the reference database (R-SEC-STO-3): each row
  // re-wrapped in its own short transaction, servers keep running.
  std::unique_ptr<livegate::storage::ReferenceStore> store;
  std::unique_ptr<crypto::WrappedKeyHolder> users;
  if (!o.database.empty()) {
    auto opened = livegate::storage::OpenStore(o.database);
    if (!opened.ok()) return Report(opened.status());
    store = std::move(opened).value();
    users = livegate::storage::UserKeyHolder(*store);
    holders.push_back(users.get());
  } else {
    std::cerr << "livegate-admin keys: WARNING no --database/--config: user data keys in the "
                 "reference database are NOT re-wrapped; keep the previous master key\n";
  }
  const crypto::RotationReport r = crypto::RewrapAll(*keys, holders);
  if (o.json) {
    std::cout << nlohmann::ordered_json{{"ok", r.failures.empty()},
                                        {"current_kek", keys->current_kek_id()},
                                        {"previous_kek", keys->previous_kek_id()},
                                        {"database", store ? store->backend_name() : "none"},
                                        {"examined", r.examined},
                                        {"rewrapped", r.rewrapped},
                                        {"already_current", r.already_current},
                                        {"failures", r.failures}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "rotation " << keys->previous_kek_id() << " -> " << keys->current_kek_id() << ": "
              << r.examined << " keys examined, " << r.rewrapped << " re-wrapped, "
              << r.already_current << " already current, " << r.failures.size() << " failures\n";
    for (const auto& f : r.failures) std::cout << "  FAILED " << f << "\n";
  }
  return r.failures.empty() ? cli::kExitOk : cli::kExitInternal;
}

cli::Registration reg([](CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "Master key, TLS and signing keys (R-SEC-STO-1/2)");
  keys->require_subcommand(1);
  auto o = std::make_shared<KeysOptions>();

  auto* gen = keys->add_subcommand("generate-kek", "Write a new random master key (mode 0600)");
  gen->add_option("--out", o->out, "Key file to create (never overwritten)")->required();
  gen->callback([o] { cli::SetExitCode(RunGenerate(*o)); });

  auto* init = keys->add_subcommand("init", "Create the demo TLS certificate and audit signing key");
  init->add_option("--key-file", o->key_file, "Master key file (default: $LIVEGATE_MASTER_KEY)");
  init->add_option("--key-dir", o->key_dir, "Key directory")->capture_default_str();
  init->add_option("--dns", o->dns, "DNS names for the certificate SAN")->capture_default_str();
  init->add_option("--ip", o->ips, "IP addresses for the certificate SAN")->capture_default_str();
  init->callback([o] { cli::SetExitCode(RunInit(*o)); });

  auto* rot = keys->add_subcommand("rotate", "Re-wrap every wrapped key under the current master key");
  rot->add_option("--key-file", o->key_file, "NEW master key file (default: $LIVEGATE_MASTER_KEY)");
  rot->add_option("--previous-key-file", o->previous_key_file,
                  "OLD master key file (default: $LIVEGATE_MASTER_KEY_PREVIOUS)");
  rot->add_option("--key-dir", o->key_dir, "Key directory")->capture_default_str();
  rot->add_option("--database", o->database,
                  "Reference database: sqlite:PATH or postgresql://... (default: from --config)");
  rot->add_option("--config", o->config,
                  "Server config file: database.uri and master_key.file (NEW key)");
  rot->add_flag("--json", o->json, "Machine-readable report");
  rot->callback([o] { cli::SetExitCode(RunRotate(*o)); });
});

}  // namespace
