// Fuzzes the SRP server's handling of the client's A and M1 (peer input).
#include <cstdint>

#include "crypto/srp6a.h"

using namespace livegate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto group = crypto::SrpGroup::Create({"modp/srp/2048", "SHA-256"});
  static const auto ver = crypto::MakeSrpVerifier(*group, "alice", "pw", crypto::Bytes(32, 1));
  auto s = crypto::SrpServerSession::Start(*group, "alice", ver->salt, ver->verifier,
                                           [](std::size_t n) { return crypto::Bytes(n, 0x42); });
  const std::size_t split = size > 32 ? size - 32 : 0;
  auto r = s->VerifyClient(crypto::ByteView(data, split), crypto::ByteView(data + split, size - split));
  if (r.ok()) __builtin_trap();  // nobody knows the password from random bytes
  return 0;
}
