#include "server/admin_client.h"

#include <httplib.h>

namespace livegate::server {

Result<AdminReply> AdminRequest(const AdminClientOptions& o, const std::string& method,
                                const std::string& path, const std::string& body) {
  const std::string prefix = "https://";
  if (o.url.rfind(prefix, 0) != 0) {
    return Status::BadInput("admin.bad_url", "the server URL must start with https://");
  }
  std::string hostport = o.url.substr(prefix.size());
  if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  const auto colon = hostport.rfind(':');
  std::string host = hostport;
  int port = 443;
  if (colon != std::string::npos) {
    host = hostport.substr(0, colon);
    try {
      port = std::stoi(hostport.substr(colon + 1));
    } catch (...) {
      return Status::BadInput("admin.bad_url", "bad port in " + o.url);
    }
  }
  httplib::SSLClient cli(host, port);
  if (!o.ca_file.empty()) cli.set_ca_cert_path(o.ca_file.c_str());
  cli.enable_server_certificate_verification(true);
  cli.set_read_timeout(o.timeout_s, 0);
  cli.set_connection_timeout(10, 0);
  httplib::Headers h{{"Authorization", "Bearer " + o.token}};
  httplib::Result res = method == "GET"      ? cli.Get(path.c_str(), h)
                        : method == "DELETE" ? cli.Delete(path.c_str(), h)
                                             : cli.Post(path.c_str(), h, body, "application/json");
  if (!res) {
    return Status(StatusCode::kUnavailable, "admin.unreachable",
                  "cannot reach " + o.url + ": " + httplib::to_string(res.error()));
  }
  return AdminReply{res->status, res->body};
}

}  // namespace livegate::server
