// Fuzzes the sealed-message envelope decoder (binary and text) and Open().
#include <cstdint>
#include <string_view>

#include "crypto/sealed_channel.h"
#include "protocol/envelope.h"

using namespace livegate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  crypto::ByteView in(data, size);
  protocol::EnvelopeLimits limits;
  limits.max_envelope_bytes = 1 << 16;
  auto m = protocol::DecodeEnvelope(in, limits);
  if (m.ok()) {
    // Re-encoding is the identity on accepted input.
    if (protocol::EncodeEnvelope(*m) != crypto::Bytes(in.begin(), in.end())) __builtin_trap();
    static const crypto::Bytes k(32, 7), id(16, 1), nonce(16, 2);
    auto ch = crypto::SealedChannel::Create(k, id, nonce, crypto::ChannelRole::kServer, {},
                                            [] { return std::int64_t{0}; });
    const auto before = ch->Serialize();
    auto r = ch->Open(*m);
    if (!r.ok() && ch->Serialize() != before) __builtin_trap();  // no side effects
  }
  (void)protocol::DecodeEnvelopeText(
      std::string_view(reinterpret_cast<const char*>(data), size), limits);
  (void)crypto::DecodeSealHeader(in);
  return 0;
}
