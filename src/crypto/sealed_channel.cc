#include "crypto/sealed_channel.h"

#include <chrono>
#include <cstring>

#include "crypto/kdf.h"

namespace livegate::crypto {
namespace {

constexpr char kMagic[4] = {'L', 'G', 'S', 'M'};
constexpr std::uint8_t kVersion = 1;

void PutU64(Bytes& out, std::uint64_t v) {
  for (int sh = 56; sh >= 0; sh -= 8) out.push_back(static_cast<std::uint8_t>(v >> sh));
}
void PutU32(Bytes& out, std::uint32_t v) {
  for (int sh = 24; sh >= 0; sh -= 8) out.push_back(static_cast<std::uint8_t>(v >> sh));
}
std::uint64_t GetU64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}
std::uint32_t GetU32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | p[i];
  return v;
}

Bytes DeriveDirectionKey(ByteView k, ByteView channel_id, ByteView server_nonce, Direction d) {
  Bytes salt(channel_id.begin(), channel_id.end());
  salt.insert(salt.end(), server_nonce.begin(), server_nonce.end());
  const char* info = d == Direction::kClientToServer ? "livegate/seal/v1/c2s" : "livegate/seal/v1/s2c";
  return HkdfSha256(k, salt, AsBytes(info), kAeadKeySize);
}

std::string DirName(Direction d) {
  return d == Direction::kClientToServer ? "client->server" : "server->client";
}

}  // namespace

Clock SystemClock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

Bytes EncodeSealHeader(const SealHeader& h) {
  Bytes out(kMagic, kMagic + 4);
  out.reserve(kSealHeaderSize);
  out.push_back(kVersion);
  out.push_back(static_cast<std::uint8_t>(h.direction));
  out.insert(out.end(), h.channel_id.begin(), h.channel_id.end());
  PutU64(out, h.sequence);
  PutU64(out, static_cast<std::uint64_t>(h.timestamp_ms));
  out.insert(out.end(), h.server_nonce.begin(), h.server_nonce.end());
  PutU32(out, h.body_length);
  return out;
}

Result<SealHeader> DecodeSealHeader(ByteView b) {
  if (b.size() != kSealHeaderSize) {
    return Status::BadInput("seal.malformed_header", "sealed-message header must be 58 bytes");
  }
  if (std::memcmp(b.data(), kMagic, 4) != 0) {
    return Status::BadInput("seal.malformed_header", "not a sealed message (bad magic)");
  }
  if (b[4] != kVersion) {
    return Status::BadInput("seal.malformed_header",
                            "unsupported sealed-message version " + std::to_string(b[4]));
  }
  if (b[5] != 1 && b[5] != 2) {
    return Status::BadInput("seal.malformed_header", "direction must be 1 or 2");
  }
  SealHeader h;
  h.direction = static_cast<Direction>(b[5]);
  std::memcpy(h.channel_id.data(), b.data() + 6, kChannelIdSize);
  h.sequence = GetU64(b.data() + 22);
  h.timestamp_ms = static_cast<std::int64_t>(GetU64(b.data() + 30));
  std::memcpy(h.server_nonce.data(), b.data() + 38, kServerNonceSize);
  h.body_length = GetU32(b.data() + 54);
  return h;
}

Result<SealedChannel> SealedChannel::Create(ByteView session_key, ByteView channel_id,
                                            ByteView server_nonce, ChannelRole role,
                                            const ChannelOptions& options, Clock clock) {
  if (session_key.size() < 16) {
    return Status::InvalidArgument("seal.bad_session_key", "session key must be >= 16 bytes");
  }
  if (channel_id.size() != kChannelIdSize || server_nonce.size() != kServerNonceSize) {
    return Status::InvalidArgument("seal.bad_channel_id",
                                   "channel id and server nonce must be 16 bytes each");
  }
  SealedChannel c;
  c.role_ = role;
  std::memcpy(c.channel_id_.data(), channel_id.data(), kChannelIdSize);
  std::memcpy(c.server_nonce_.data(), server_nonce.data(), kServerNonceSize);
  c.send_key_ = DeriveDirectionKey(session_key, channel_id, server_nonce, c.SendDirection());
  c.recv_key_ = DeriveDirectionKey(session_key, channel_id, server_nonce, c.ReceiveDirection());
  c.options_ = options;
  c.clock_ = clock ? std::move(clock) : SystemClock();
  c.expires_at_ms_ = c.clock_() + options.lifetime_ms;
  return c;
}

Direction SealedChannel::SendDirection() const {
  return role_ == ChannelRole::kClient ? Direction::kClientToServer : Direction::kServerToClient;
}
Direction SealedChannel::ReceiveDirection() const {
  return role_ == ChannelRole::kClient ? Direction::kServerToClient : Direction::kClientToServer;
}

Result<SealedMessage> SealedChannel::Seal(ByteView body) {
  if (body.size() > options_.max_body_bytes) {
    return Status::TooLarge("seal.body_too_large",
                            "message body of " + std::to_string(body.size()) +
                                " bytes exceeds the limit of " +
                                std::to_string(options_.max_body_bytes));
  }
  const std::int64_t now = clock_();
  if (now > expires_at_ms_) {
    return Status(StatusCode::kExpired, "seal.channel_expired", "the secure channel has expired");
  }
  SealedMessage m;
  m.header.channel_id = channel_id_;
  m.header.direction = SendDirection();
  m.header.sequence = next_send_;
  m.header.timestamp_ms = now;
  m.header.server_nonce = server_nonce_;
  m.header.body_length = static_cast<std::uint32_t>(body.size());
  LG_ASSIGN_OR_RETURN(m.sealed, AeadSeal(send_key_, body, EncodeSealHeader(m.header)));
  ++next_send_;
  return m;
}

Result<Bytes> SealedChannel::Open(const SealedMessage& m) {
  const SealHeader& h = m.header;
  // Checks on the (not yet authenticated) header first: they only compare
  // with local state and return before any key is used.
  if (h.channel_id != channel_id_ || h.server_nonce != server_nonce_) {
    return Status::BadInput("seal.wrong_channel", "message belongs to another channel");
  }
  if (h.direction != ReceiveDirection()) {
    return Status::BadInput("seal.wrong_direction",
                            "message direction " + DirName(h.direction) + " is not accepted here");
  }
  if (h.body_length > options_.max_body_bytes) {
    return Status::TooLarge("seal.body_too_large", "sealed body exceeds the size limit");
  }
  if (m.sealed.size() != static_cast<std::size_t>(h.body_length) + kAeadNonceSize + kAeadTagSize) {
    return Status::BadInput("seal.length_mismatch",
                            "ciphertext length does not match the header's body_length");
  }
  const std::int64_t now = clock_();
  if (now > expires_at_ms_) {
    return Status(StatusCode::kExpired, "seal.channel_expired", "the secure channel has expired");
  }
  auto body = AeadOpen(recv_key_, m.sealed, EncodeSealHeader(h));
  if (!body.ok()) {
    return Status::Unauthenticated("seal.auth_failed",
                                   "sealed message failed authentication (modified or wrong key)");
  }
  // Authenticated: the sequence and timestamp really are the sender's.
  if (h.sequence < next_recv_) {
    return Status(StatusCode::kReplay, "seal.replayed",
                  "sequence " + std::to_string(h.sequence) + " was already received (expected " +
                      std::to_string(next_recv_) + ")");
  }
  if (h.sequence > next_recv_) {
    return Status(StatusCode::kReplay, "seal.sequence_skipped",
                  "sequence " + std::to_string(h.sequence) + " arrived while " +
                      std::to_string(next_recv_) + " was expected (skipped or reordered)");
  }
  const std::int64_t skew = h.timestamp_ms > now ? h.timestamp_ms - now : now - h.timestamp_ms;
  if (skew > options_.timestamp_window_ms) {
    return Status(StatusCode::kReplay, "seal.timestamp_out_of_window",
                  "message timestamp is " + std::to_string(skew) +
                      " ms away from the server clock (window " +
                      std::to_string(options_.timestamp_window_ms) + " ms)");
  }
  ++next_recv_;
  return body;
}

// State: "LGCH" | 1 | role | channel_id 16 | server_nonce 16 | send_key 32 |
// recv_key 32 | next_send u64 | next_recv u64 | expires_at i64  = 126 bytes.
Bytes SealedChannel::Serialize() const {
  Bytes out = ToBytes("LGCH");
  out.push_back(1);
  out.push_back(static_cast<std::uint8_t>(role_));
  out.insert(out.end(), channel_id_.begin(), channel_id_.end());
  out.insert(out.end(), server_nonce_.begin(), server_nonce_.end());
  out.insert(out.end(), send_key_.begin(), send_key_.end());
  out.insert(out.end(), recv_key_.begin(), recv_key_.end());
  PutU64(out, next_send_);
  PutU64(out, next_recv_);
  PutU64(out, static_cast<std::uint64_t>(expires_at_ms_));
  return out;
}

Result<SealedChannel> SealedChannel::Restore(ByteView s, const ChannelOptions& options,
                                             Clock clock) {
  constexpr std::size_t kSize = 4 + 1 + 1 + 16 + 16 + 32 + 32 + 8 + 8 + 8;
  if (s.size() != kSize || std::memcmp(s.data(), "LGCH", 4) != 0 || s[4] != 1 ||
      (s[5] != 1 && s[5] != 2)) {
    return Status::BadInput("seal.state_malformed", "stored channel state is malformed");
  }
  SealedChannel c;
  c.role_ = static_cast<ChannelRole>(s[5]);
  std::size_t p = 6;
  std::memcpy(c.channel_id_.data(), s.data() + p, 16);
  p += 16;
  std::memcpy(c.server_nonce_.data(), s.data() + p, 16);
  p += 16;
  c.send_key_.assign(s.begin() + p, s.begin() + p + 32);
  p += 32;
  c.recv_key_.assign(s.begin() + p, s.begin() + p + 32);
  p += 32;
  c.next_send_ = GetU64(s.data() + p);
  c.next_recv_ = GetU64(s.data() + p + 8);
  c.expires_at_ms_ = static_cast<std::int64_t>(GetU64(s.data() + p + 16));
  c.options_ = options;
  c.clock_ = clock ? std::move(clock) : SystemClock();
  return c;
}

}  // namespace livegate::crypto
