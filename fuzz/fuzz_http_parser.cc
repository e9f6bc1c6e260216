// Fuzzes the HTTP/1.1 request parser of the server's front
// (src/server/http_parser.h) with small limits, fed in pieces whose size
// the first input byte picks, pipelined requests included. Checks the
// parser's own promises: it always makes progress, a complete request has
// exactly its Content-Length of body, an error has a 4xx/5xx status and a
// reason, and the limits hold.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/http_parser.h"

using namespace livegate::server::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  ParserLimits limits;
  limits.max_head_bytes = 1024;
  limits.max_header_count = 16;
  limits.max_body_bytes = 2048;
  RequestParser p(limits);
  while (!rest.empty()) {
    const std::string_view chunk = rest.substr(0, piece);
    const std::size_t used = p.Feed(chunk);
    if (used > chunk.size()) std::abort();
    rest.remove_prefix(used);
    switch (p.state()) {
      case RequestParser::State::kComplete: {
        const ParsedRequest& r = p.request();
        if (r.body.size() != r.content_length || r.content_length > limits.max_body_bytes) std::abort();
        if (r.method.empty() || r.path.empty() || r.path[0] != '/') std::abort();
        if (r.headers.size() > limits.max_header_count) std::abort();
        (void)MethodLabel(r.method);
        (void)MediaTypeIs(r.Header("content-type"), "application/json", true);
        p.Reset();  // the next, pipelined request
        break;
      }
      case RequestParser::State::kError:
        if (p.error().http_status < 400 || p.error().http_status > 599 || p.error().reason.empty()) std::abort();
        return 0;
      default:
        // Not finished: the whole chunk must have been taken.
        if (used != chunk.size()) std::abort();
        break;
    }
  }
  return 0;
}
