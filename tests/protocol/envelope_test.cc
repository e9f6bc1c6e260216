// Wire envelope (R-SEC-COM-4): strict decoding, and a bit flip at every byte
// position of a small sealed message is rejected without side effects.
#include "protocol/envelope.h"

#include <gtest/gtest.h>

#include "crypto/kdf.h"

namespace livegate::protocol {
namespace {

using crypto::Bytes;

struct Channels {
  std::int64_t now = 1'700'000'000'000;
  crypto::SealedChannel client, server;
  Channels() : client(Make(crypto::ChannelRole::kClient)), server(Make(crypto::ChannelRole::kServer)) {}
  Bytes k = Bytes(32, 9), id = Bytes(16, 1), nonce = Bytes(16, 2);
  crypto::SealedChannel Make(crypto::ChannelRole r) {
    return *crypto::SealedChannel::Create(Bytes(32, 9), Bytes(16, 1), Bytes(16, 2), r, {},
                                          [this] { return now; });
  }
};

TEST(EnvelopeTest, RoundTripBinaryAndText) {
  Channels c;
  auto wire = SealToWire(c.client, crypto::ToBytes("payload"));
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire->size(), kEnvelopeOverhead + 7);
  EXPECT_EQ(*OpenFromWire(c.server, *wire), crypto::ToBytes("payload"));
  auto m = c.client.Seal(crypto::ToBytes("second"));
  const std::string text = EncodeEnvelopeText(*m);
  auto back = DecodeEnvelopeText(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(EncodeEnvelope(*back), EncodeEnvelope(*m));
  EXPECT_EQ(*c.server.Open(*back), crypto::ToBytes("second"));
}

TEST(EnvelopeTest, StrictDecoding) {
  Channels c;
  const Bytes wire = *SealToWire(c.client, crypto::ToBytes("abc"));
  EXPECT_EQ(DecodeEnvelope(Bytes(wire.begin(), wire.begin() + 85)).status().reason(),
            "envelope.truncated");
  Bytes longer = wire;
  longer.push_back(0);
  EXPECT_EQ(DecodeEnvelope(longer).status().reason(), "envelope.length_mismatch");
  EnvelopeLimits tiny;
  tiny.max_envelope_bytes = 88;
  auto big = DecodeEnvelope(wire, tiny);
  EXPECT_EQ(big.status().reason(), "envelope.too_large");
  EXPECT_EQ(big.status().code(), StatusCode::kTooLarge);
  Bytes magic = wire;
  magic[0] = 'X';
  EXPECT_EQ(DecodeEnvelope(magic).status().reason(), "seal.malformed_header");
  EXPECT_EQ(DecodeEnvelopeText("not base64!").status().reason(), "encoding.bad_base64url");
}

// The reason expected for a flip at byte i of a 3-byte-body envelope.
std::string ExpectedReason(std::size_t i) {
  if (i < 6) return "seal.malformed_header";            // magic, version, direction
  if (i < 22) return "seal.wrong_channel";              // channel id
  if (i < 38) return "seal.auth_failed";                // sequence, timestamp
  if (i < 54) return "seal.wrong_channel";              // server nonce
  if (i < 58) return "envelope.length_mismatch";        // body_length
  return "seal.auth_failed";                            // nonce, ciphertext, tag
}

TEST(EnvelopeTest, BitFlipInEveryBytePositionRejected) {
  Channels c;
  const Bytes wire = *SealToWire(c.client, crypto::ToBytes("abc"));
  ASSERT_EQ(wire.size(), 89u);
  const Bytes before_state = c.server.Serialize();
  for (std::size_t i = 0; i < wire.size(); ++i) {
    for (int bit : {0, 7}) {
      Bytes m = wire;
      m[i] ^= static_cast<std::uint8_t>(1u << bit);
      auto r = OpenFromWire(c.server, m);
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      // The direction byte 0x01 with bit 0 flipped is 0x00 (malformed), with
      // bit 7 0x81 (malformed): both header errors.
      EXPECT_EQ(r.status().reason(), ExpectedReason(i)) << "byte " << i << " bit " << bit;
      ASSERT_EQ(c.server.Serialize(), before_state) << "state changed at byte " << i;
    }
  }
  // The untouched message still opens: nothing was consumed.
  EXPECT_EQ(*OpenFromWire(c.server, wire), crypto::ToBytes("abc"));
}

}  // namespace
}  // namespace livegate::protocol
