// HTTPS client for the admin interface (used by livegate-admin). Trusts
// only the given CA/certificate file (the server's self-signed certificate
// or its CA), sends the admin bearer token, and returns status + JSON.
#pragma once

#include <string>

#include "livegate/status.h"

namespace livegate::server {

struct AdminClientOptions {
  std::string url = "https://127.0.0.1:8443";  // https://host:port
  std::string ca_file;                         // PEM to trust (required)
  std::string token;                           // admin bearer token
  int timeout_s = 120;                         // batch import judges images
};

struct AdminReply {
  int status = 0;
  std::string body;
};

// Reasons: admin.bad_url, admin.unreachable (Unavailable).
Result<AdminReply> AdminRequest(const AdminClientOptions& options, const std::string& method,
                                const std::string& path, const std::string& body = "");

}  // namespace livegate::server
