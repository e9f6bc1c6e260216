// `livegate-admin import --account ID --device-type T --source NAME IMAGE...`
// Batch import of references from images through the admin interface
// (R-SRV-REG-1/2, decision 11.12): the server judges their quality, extracts
// the descriptor, protects and stores it marked "batch:NAME", and audits it.
// Exit 0 stored, 1 refused (e.g. quality), 3 bad input, 4 unreachable.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "command.h"
#include "crypto/kdf.h"
#include "server/admin_client.h"

namespace {

struct ImportOptions {
  livegate::server::AdminClientOptions client;
  std::string token_env = "LIVEGATE_ADMIN_TOKEN";
  std::string account;
  std::string device_type;
  std::string source;
  std::vector<std::string> images;
};

int RunImport(ImportOptions o) {
  using namespace livegate;
  const char* t = std::getenv(o.token_env.c_str());
  if (t == nullptr || *t == '\0') {
    std::cerr << "livegate-admin import: set the admin token in $" << o.token_env << "\n";
    return cli::kExitUsage;
  }
  o.client.token = t;
  nlohmann::json images = nlohmann::json::array();
  for (const auto& path : o.images) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::cerr << "livegate-admin import: cannot read " << path << "\n";
      return cli::kExitBadInput;
    }
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    images.push_back(crypto::Base64UrlEncode(bytes));
  }
  nlohmann::json body{{"account_id", o.account}, {"device_type", o.device_type},
                      {"source", o.source}, {"images", images}};
  auto r = server::AdminRequest(o.client, "POST", "/v1/admin/references", body.dump());
  if (!r.ok()) {
    std::cerr << "livegate-admin import: " << r.status().ToString() << "\n";
    return r.status().code() == StatusCode::kUnavailable ? cli::kExitUnavailable : cli::kExitBadInput;
  }
  std::cout << r->body << "\n";
  return r->status == 201 ? cli::kExitOk : cli::kExitRefused;
}

livegate::cli::Registration reg([](CLI::App& app) {
  auto o = std::make_shared<ImportOptions>();
  auto* cmd = app.add_subcommand("import", "batch-import a reference from face images (admin interface)");
  cmd->add_option("--server", o->client.url, "server URL (https://host:port)")->required();
  cmd->add_option("--ca", o->client.ca_file, "PEM certificate or CA to trust")->required();
  cmd->add_option("--token-env", o->token_env, "environment variable holding the admin token");
  cmd->add_option("--account", o->account, "account id")->required();
  cmd->add_option("--device-type", o->device_type, "device type the reference is for")->required();
  cmd->add_option("--source", o->source, "source name recorded with the reference")->required();
  cmd->add_option("images", o->images, "image files (1-16)")->required()->expected(1, 16);
  cmd->callback([o] { livegate::cli::SetExitCode(RunImport(*o)); });
});

}  // namespace
