// HTTPS to the livegate server with the pinned certificate as the only trust
// anchor (R-CLI-SM-1) and host-name verification. httplib stays in the .cc.
#pragma once

#include <memory>
#include <string>

#include "client/pinning.h"
#include "livegate/status.h"

namespace livegate::client {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
};

struct HttpsOptions {
  int connect_timeout_s = 5;
  int read_timeout_s = 120;   // judgement of a capture package takes seconds
};

class HttpsClient {
 public:
  // Reasons on calls: https.unreachable (Unavailable), pin.mismatch
  // (PermissionDenied: the server's certificate is not the pinned one).
  static std::unique_ptr<HttpsClient> Create(const ServerAddress& address, const PinnedTrust& trust,
                                             const HttpsOptions& options = {});
  virtual ~HttpsClient() = default;
  virtual Result<HttpResponse> Get(const std::string& path) = 0;
  virtual Result<HttpResponse> Post(const std::string& path, const std::string& body,
                                    const std::string& content_type) = 0;
};

}  // namespace livegate::client
