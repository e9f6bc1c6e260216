// Sealed channel (R-SEC-COM-4/5, R-SEC-SRV-3): per-direction keys, and every
// rejection leaves the channel state unchanged.
#include "crypto/sealed_channel.h"

#include <gtest/gtest.h>

#include "crypto/kdf.h"

namespace livegate::crypto {
namespace {

struct Pair {
  std::int64_t now = 1'700'000'000'000;
  Bytes k = RandomBytes(32);
  Bytes id = RandomBytes(kChannelIdSize);
  Bytes nonce = RandomBytes(kServerNonceSize);
  ChannelOptions opt;
  SealedChannel client, server;
  Pair() : client(Make(ChannelRole::kClient)), server(Make(ChannelRole::kServer)) {}
  SealedChannel Make(ChannelRole role) {
    auto c = SealedChannel::Create(k, id, nonce, role, opt, [this] { return now; });
    EXPECT_TRUE(c.ok());
    return std::move(c).value();
  }
};

TEST(SealedChannelTest, RoundTripBothDirections) {
  Pair p;
  auto m = p.client.Seal(ToBytes("hello server"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->header.direction, Direction::kClientToServer);
  EXPECT_EQ(m->header.sequence, 0u);
  EXPECT_EQ(m->header.timestamp_ms, p.now);
  auto body = p.server.Open(*m);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(*body, ToBytes("hello server"));
  auto r = p.server.Seal(ToBytes("hello client"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*p.client.Open(*r), ToBytes("hello client"));
  EXPECT_EQ(p.server.next_receive_sequence(), 1u);
  EXPECT_EQ(p.server.next_send_sequence(), 1u);
}

// R-SEC-COM-5: per-channel, per-direction keys.
TEST(SealedChannelTest, DirectionsUseDistinctKeys) {
  Pair p;
  // A client message reflected back to the client is refused.
  auto m = p.client.Seal(ToBytes("x"));
  EXPECT_EQ(p.client.Open(*m).status().reason(), "seal.wrong_direction");
  // Forcing the direction field does not help: the key differs.
  SealedMessage forged = *m;
  forged.header.direction = Direction::kServerToClient;
  EXPECT_EQ(p.client.Open(forged).status().reason(), "seal.auth_failed");
}

// R-SEC-SRV-3: a replayed message is refused and changes nothing.
TEST(SealedChannelTest, ReplayRejectedWithoutSideEffects) {
  Pair p;
  auto m0 = p.client.Seal(ToBytes("m0"));
  ASSERT_TRUE(p.server.Open(*m0).ok());
  auto again = p.server.Open(*m0);
  EXPECT_EQ(again.status().reason(), "seal.replayed");
  EXPECT_EQ(again.status().code(), StatusCode::kReplay);
  EXPECT_EQ(p.server.next_receive_sequence(), 1u);
  auto m1 = p.client.Seal(ToBytes("m1"));
  EXPECT_TRUE(p.server.Open(*m1).ok());
}

TEST(SealedChannelTest, ReorderedAndSkippedRejected) {
  Pair p;
  auto m0 = p.client.Seal(ToBytes("m0"));
  auto m1 = p.client.Seal(ToBytes("m1"));
  auto m2 = p.client.Seal(ToBytes("m2"));
  // m1 before m0: reordered.
  auto early = p.server.Open(*m1);
  EXPECT_EQ(early.status().reason(), "seal.sequence_skipped");
  EXPECT_EQ(early.status().code(), StatusCode::kReplay);
  EXPECT_EQ(p.server.next_receive_sequence(), 0u);
  ASSERT_TRUE(p.server.Open(*m0).ok());
  // m2 with m1 missing: skipped.
  EXPECT_EQ(p.server.Open(*m2).status().reason(), "seal.sequence_skipped");
  EXPECT_EQ(p.server.next_receive_sequence(), 1u);
  ASSERT_TRUE(p.server.Open(*m1).ok());
  ASSERT_TRUE(p.server.Open(*m2).ok());
  // m0 again after m2: replayed.
  EXPECT_EQ(p.server.Open(*m0).status().reason(), "seal.replayed");
}

TEST(SealedChannelTest, TimestampWindow) {
  Pair p;
  p.opt.timestamp_window_ms = 30'000;
  auto m = p.client.Seal(ToBytes("late"));
  p.now += 30'001;  // delivered 30.001 s later
  auto r = p.server.Open(*m);
  EXPECT_EQ(r.status().reason(), "seal.timestamp_out_of_window");
  EXPECT_EQ(r.status().code(), StatusCode::kReplay);
  EXPECT_EQ(p.server.next_receive_sequence(), 0u);
  p.now -= 1;  // exactly at the edge of the window: accepted
  EXPECT_TRUE(p.server.Open(*m).ok());

  // A sender clock in the future is refused too.
  Pair q;
  q.now += 60'000;
  auto future = q.client.Seal(ToBytes("future"));
  q.now -= 60'000;
  EXPECT_EQ(q.server.Open(*future).status().reason(), "seal.timestamp_out_of_window");
}

TEST(SealedChannelTest, OtherChannelRejected) {
  Pair a, b;
  auto m = a.client.Seal(ToBytes("for a"));
  EXPECT_EQ(b.server.Open(*m).status().reason(), "seal.wrong_channel");
  // Same channel id but another session key (another client): auth fails.
  Pair c;
  c.id = a.id;
  c.nonce = a.nonce;
  SealedChannel other = c.Make(ChannelRole::kServer);
  EXPECT_EQ(other.Open(*m).status().reason(), "seal.auth_failed");
  EXPECT_EQ(other.next_receive_sequence(), 0u);
}

TEST(SealedChannelTest, ExpiredChannel) {
  Pair p;
  auto m = p.client.Seal(ToBytes("x"));
  p.now = p.server.expires_at_ms() + 1;
  auto r = p.server.Open(*m);
  EXPECT_EQ(r.status().reason(), "seal.channel_expired");
  EXPECT_EQ(r.status().code(), StatusCode::kExpired);
  EXPECT_EQ(p.server.Seal(ToBytes("y")).status().reason(), "seal.channel_expired");
  EXPECT_EQ(p.server.next_receive_sequence(), 0u);
  EXPECT_EQ(p.server.next_send_sequence(), 0u);
}

TEST(SealedChannelTest, SizeLimitAndLengthMismatch) {
  Pair p;
  p.opt.max_body_bytes = 8;
  SealedChannel small = p.Make(ChannelRole::kClient);
  EXPECT_EQ(small.Seal(Bytes(9, 1)).status().reason(), "seal.body_too_large");
  auto m = p.client.Seal(ToBytes("abc"));
  SealedMessage bad = *m;
  bad.sealed.pop_back();
  EXPECT_EQ(p.server.Open(bad).status().reason(), "seal.length_mismatch");
}

TEST(SealedChannelTest, StateSerializesAndContinues) {
  Pair p;
  auto m0 = p.client.Seal(ToBytes("m0"));
  ASSERT_TRUE(p.server.Open(*m0).ok());
  const Bytes state = p.server.Serialize();
  EXPECT_EQ(state.size(), 126u);
  // Another server process picks the flow up.
  auto restored = SealedChannel::Restore(state, p.opt, [&p] { return p.now; });
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->next_receive_sequence(), 1u);
  EXPECT_EQ(restored->expires_at_ms(), p.server.expires_at_ms());
  EXPECT_EQ(restored->Open(*m0).status().reason(), "seal.replayed");
  auto m1 = p.client.Seal(ToBytes("m1"));
  EXPECT_EQ(*restored->Open(*m1), ToBytes("m1"));
  auto reply = restored->Seal(ToBytes("ok"));
  EXPECT_EQ(*p.client.Open(*reply), ToBytes("ok"));
  Bytes bad = state;
  bad[0] = 'X';
  EXPECT_EQ(SealedChannel::Restore(bad).status().reason(), "seal.state_malformed");
  EXPECT_EQ(SealedChannel::Restore(Bytes(state.begin(), state.end() - 1)).status().reason(),
            "seal.state_malformed");
}

TEST(SealedChannelTest, HeaderEncodingIsFixed) {
  SealHeader h;
  h.channel_id.fill(0x11);
  h.direction = Direction::kServerToClient;
  h.sequence = 0x0102030405060708ull;
  h.timestamp_ms = 0x1122334455667788ll;
  h.server_nonce.fill(0x22);
  h.body_length = 0xA0B0C0D0u;
  const Bytes b = EncodeSealHeader(h);
  ASSERT_EQ(b.size(), kSealHeaderSize);
  EXPECT_EQ(HexEncode(b),
            "4c47534d" "01" "02" + std::string(32, '1') + "0102030405060708" "1122334455667788" +
                std::string(32, '2') + "a0b0c0d0");
  auto d = DecodeSealHeader(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->sequence, h.sequence);
  EXPECT_EQ(d->timestamp_ms, h.timestamp_ms);
  EXPECT_EQ(d->body_length, h.body_length);
  Bytes bad = b;
  bad[5] = 3;
  EXPECT_EQ(DecodeSealHeader(bad).status().reason(), "seal.malformed_header");
}

}  // namespace
}  // namespace livegate::crypto
