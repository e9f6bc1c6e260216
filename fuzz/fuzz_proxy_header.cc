// Fuzzes the PROXY protocol header parser of the server's front
// (src/server/http_parser.h, ProxyHeaderParser), fed in pieces whose size
// the first input byte picks, as the server feeds it what it peeks. Checks
// its promises: it never takes more than it was given nor more than the
// bounds (v1 107 bytes, v2 16 + 512), takes all of a piece while it needs
// more, a complete header has a version and an address unless local, and
// an error has one of the stable reasons. Also fuzzes the address ranges
// of listen.trusted_proxies.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http_parser.h"

using namespace livegate::server::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 32;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  {
    AddressRange r;
    const std::string text(rest.substr(0, 64));
    if (ParseAddressRange(text, &r).empty()) {
      if (r.prefix_bits < 1 || r.prefix_bits > 128) std::abort();
      (void)r.Contains(text);
    }
    (void)MatchProxySignature(rest.substr(0, 12));
  }
  ProxyHeaderParser p;
  std::size_t total = 0;
  while (!rest.empty() && p.state() == ProxyHeaderParser::State::kNeedMore) {
    const std::string_view chunk = rest.substr(0, piece);
    const std::size_t used = p.Feed(chunk);
    if (used > chunk.size()) std::abort();
    total += used;
    rest.remove_prefix(used);
    if (p.state() == ProxyHeaderParser::State::kNeedMore && used != chunk.size()) std::abort();
  }
  if (total > 16 + kMaxProxyV2Payload || p.bytes_taken() != total) std::abort();
  if (p.state() == ProxyHeaderParser::State::kComplete) {
    const auto& h = p.header();
    if (h.version != 1 && h.version != 2) std::abort();
    if (h.version == 1 && total > kMaxProxyV1Bytes) std::abort();
    if (!h.local && h.source_address.empty()) std::abort();
    if (h.source_port < 0 || h.source_port > 65535) std::abort();
  } else if (p.state() == ProxyHeaderParser::State::kError) {
    const std::string& e = p.error();
    if (e != "proxy.missing_header" && e != "proxy.bad_header" && e != "proxy.too_large" &&
        e != "proxy.unsupported") {
      std::abort();
    }
  }
  return 0;
}
