// The wire envelope of a sealed message (R-SEC-COM-4/5, R-SEC-SRV-3):
//   header (58 bytes, see crypto/sealed_channel.h) | nonce (12) |
//   ciphertext (header.body_length) | tag (16)
// The text form is the same bytes in unpadded base64url, for JSON fields.
#pragma once

#include <string>
#include <string_view>

#include "crypto/sealed_channel.h"
#include "livegate/status.h"

namespace livegate::protocol {

constexpr std::size_t kEnvelopeOverhead = crypto::kSealHeaderSize + crypto::kAeadNonceSize +
                                          crypto::kAeadTagSize;  // 86 bytes

struct EnvelopeLimits {
  // Largest accepted envelope in bytes, checked before anything else.
  // Default 16 MiB body + 86 bytes of overhead.
  std::size_t max_envelope_bytes = (16u << 20) + kEnvelopeOverhead;
};

crypto::Bytes EncodeEnvelope(const crypto::SealedMessage& message);
// Errors: TooLarge(envelope.too_large), BadInput(envelope.truncated),
// BadInput(seal.malformed_header), BadInput(envelope.length_mismatch).
Result<crypto::SealedMessage> DecodeEnvelope(crypto::ByteView wire,
                                             const EnvelopeLimits& limits = {});

std::string EncodeEnvelopeText(const crypto::SealedMessage& message);
// Also BadInput(encoding.bad_base64url).
Result<crypto::SealedMessage> DecodeEnvelopeText(std::string_view text,
                                                 const EnvelopeLimits& limits = {});

// Convenience for flow code: seal a body to the wire / open wire bytes.
Result<crypto::Bytes> SealToWire(crypto::SealedChannel& channel, crypto::ByteView body);
Result<crypto::Bytes> OpenFromWire(crypto::SealedChannel& channel, crypto::ByteView wire,
                                   const EnvelopeLimits& limits = {});

}  // namespace livegate::protocol
