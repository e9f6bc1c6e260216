#include "protocol/envelope.h"

#include "crypto/kdf.h"

namespace livegate::protocol {

using crypto::Bytes;
using crypto::ByteView;

Bytes EncodeEnvelope(const crypto::SealedMessage& m) {
  Bytes out = crypto::EncodeSealHeader(m.header);
  out.insert(out.end(), m.sealed.begin(), m.sealed.end());
  return out;
}

Result<crypto::SealedMessage> DecodeEnvelope(ByteView wire, const EnvelopeLimits& limits) {
  if (wire.size() > limits.max_envelope_bytes) {
    return Status::TooLarge("envelope.too_large",
                            "envelope of " + std::to_string(wire.size()) + " bytes exceeds " +
                                std::to_string(limits.max_envelope_bytes));
  }
  if (wire.size() < kEnvelopeOverhead) {
    return Status::BadInput("envelope.truncated",
                            "envelope shorter than its 86-byte minimum");
  }
  LG_ASSIGN_OR_RETURN(crypto::SealHeader header,
                      crypto::DecodeSealHeader(wire.first(crypto::kSealHeaderSize)));
  if (wire.size() - kEnvelopeOverhead != header.body_length) {
    return Status::BadInput("envelope.length_mismatch",
                            "envelope size does not match the header's body_length");
  }
  crypto::SealedMessage m;
  m.header = header;
  m.sealed.assign(wire.begin() + crypto::kSealHeaderSize, wire.end());
  return m;
}

std::string EncodeEnvelopeText(const crypto::SealedMessage& m) {
  return crypto::Base64UrlEncode(EncodeEnvelope(m));
}

Result<crypto::SealedMessage> DecodeEnvelopeText(std::string_view text,
                                                 const EnvelopeLimits& limits) {
  // Size check before decoding: 4 text characters carry 3 bytes.
  if (text.size() / 4 * 3 > limits.max_envelope_bytes) {
    return Status::TooLarge("envelope.too_large", "envelope text exceeds the size limit");
  }
  LG_ASSIGN_OR_RETURN(Bytes wire, crypto::Base64UrlDecode(text));
  return DecodeEnvelope(wire, limits);
}

Result<Bytes> SealToWire(crypto::SealedChannel& channel, ByteView body) {
  LG_ASSIGN_OR_RETURN(crypto::SealedMessage m, channel.Seal(body));
  return EncodeEnvelope(m);
}

Result<Bytes> OpenFromWire(crypto::SealedChannel& channel, ByteView wire,
                           const EnvelopeLimits& limits) {
  LG_ASSIGN_OR_RETURN(crypto::SealedMessage m, DecodeEnvelope(wire, limits));
  return channel.Open(m);
}

}  // namespace livegate::protocol
