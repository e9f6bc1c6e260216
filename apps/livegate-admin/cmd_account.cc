// `livegate-admin account create|show|delete-biometrics` - the admin
// provisioning interface (R-FLOW-REG-0 precondition, decision 11.11 operator
// path). The password verifier is computed here; the server never receives
// the password. Exit 0 done, 1 refused by the server, 3 bad input,
// 4 server unreachable.
//
//   LIVEGATE_ADMIN_TOKEN=... LIVEGATE_ACCOUNT_PASSWORD=... livegate-admin account create
//       --server https://127.0.0.1:8443 --ca tls/cert.pem --account alice   (one command line)
#include <cstdlib>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "command.h"
#include "crypto/kdf.h"
#include "crypto/srp6a.h"
#include "server/admin_client.h"

namespace {

struct AccountOptions {
  livegate::server::AdminClientOptions client;
  std::string token_env = "LIVEGATE_ADMIN_TOKEN";
  std::string password_env = "LIVEGATE_ACCOUNT_PASSWORD";
  std::string account;
  std::string group = "modp/srp/3072";
  std::string hash = "SHA-256";
};

int Report(const livegate::Result<livegate::server::AdminReply>& r, int ok_status) {
  using namespace livegate;
  if (!r.ok()) {
    std::cerr << "livegate-admin: " << r.status().ToString() << "\n";
    return r.status().code() == StatusCode::kUnavailable ? cli::kExitUnavailable : cli::kExitBadInput;
  }
  std::cout << r->body << "\n";
  return r->status == ok_status ? cli::kExitOk : cli::kExitRefused;
}

bool LoadToken(AccountOptions& o) {
  const char* t = std::getenv(o.token_env.c_str());
  if (t == nullptr || *t == '\0') {
    std::cerr << "livegate-admin: set the admin token in $" << o.token_env << "\n";
    return false;
  }
  o.client.token = t;
  return true;
}

int RunCreate(AccountOptions o) {
  using namespace livegate;
  if (!LoadToken(o)) return cli::kExitUsage;
  const char* pw = std::getenv(o.password_env.c_str());
  if (pw == nullptr || *pw == '\0') {
    std::cerr << "livegate-admin: set the account password in $" << o.password_env << "\n";
    return cli::kExitUsage;
  }
  auto group = crypto::SrpGroup::Create({o.group, o.hash});
  if (!group.ok()) return Report(group.status(), 201);
  auto v = crypto::MakeSrpVerifier(*group, o.account, pw);
  if (!v.ok()) return Report(v.status(), 201);
  nlohmann::json body{{"account_id", o.account}, {"srp_group", o.group}, {"srp_hash", o.hash},
                      {"salt", crypto::Base64UrlEncode(v->salt)},
                      {"verifier", crypto::Base64UrlEncode(v->verifier)}};
  return Report(server::AdminRequest(o.client, "POST", "/v1/admin/accounts", body.dump()), 201);
}

void CommonOptions(CLI::App* cmd, AccountOptions* o) {
  cmd->add_option("--server", o->client.url, "server URL (https://host:port)")->required();
  cmd->add_option("--ca", o->client.ca_file, "PEM certificate or CA to trust")->required();
  cmd->add_option("--token-env", o->token_env, "environment variable holding the admin token");
  cmd->add_option("--account", o->account, "account id")->required();
}

livegate::cli::Registration reg([](CLI::App& app) {
  auto* account = app.add_subcommand("account", "Provision accounts (admin interface)");
  account->require_subcommand(1);
  auto o = std::make_shared<AccountOptions>();
  auto* create = account->add_subcommand("create", "create an account with a password SRP verifier");
  CommonOptions(create, o.get());
  create->add_option("--password-env", o->password_env, "environment variable holding the password");
  create->add_option("--group", o->group, "SRP group (modp/srp/2048..8192)");
  create->callback([o] { livegate::cli::SetExitCode(RunCreate(*o)); });

  auto* show = account->add_subcommand("show", "show an account's state, devices and references");
  CommonOptions(show, o.get());
  show->callback([o] {
    if (!LoadToken(*o)) return livegate::cli::SetExitCode(livegate::cli::kExitUsage);
    livegate::cli::SetExitCode(Report(
        livegate::server::AdminRequest(o->client, "GET", "/v1/admin/accounts/" + o->account), 200));
  });

  auto* del = account->add_subcommand("delete-biometrics",
                                      "operator opt-out: delete references, device credentials and "
                                      "the data key (crypto-shredding, audited)");
  CommonOptions(del, o.get());
  del->callback([o] {
    if (!LoadToken(*o)) return livegate::cli::SetExitCode(livegate::cli::kExitUsage);
    livegate::cli::SetExitCode(Report(livegate::server::AdminRequest(
        o->client, "DELETE", "/v1/admin/accounts/" + o->account + "/biometrics"), 200));
  });
});

}  // namespace
