// Sealed messages on top of an SRP session key (X.1279 clause 9: R-SEC-COM-4/5
// integrity + confidentiality with per-client keys, R-SEC-SRV-3 replay
// resistance with sequence numbers, timestamps and a server nonce, R-SRP-4).
//
// Keys: HKDF-SHA256(ikm = K, salt = channel_id | server_nonce,
//                   info = "livegate/seal/v1/c2s" or ".../s2c") -> 32 bytes
// each, so the two directions and every channel have distinct keys.
// Message: AES-256-GCM(key_dir, body, aad = the 58-byte header below).
//
// Header (all integers big-endian), which is also the first 58 bytes of the
// wire envelope (src/protocol/envelope.h):
//   0  "LGSM"          4  magic
//   4  0x01            1  version
//   5  direction       1  1 = client->server, 2 = server->client
//   6  channel_id     16
//  22  sequence        8  u64, starts at 0 per direction, +1 per message
//  30  timestamp_ms    8  i64, sender's Unix time in milliseconds
//  38  server_nonce   16  chosen by the server when the channel was opened
//  54  body_length     4  u32, length of ciphertext (without nonce and tag)
// followed on the wire by nonce (12) | ciphertext (body_length) | tag (16).
//
// Open() rejects, leaving the channel state unchanged: another channel
// (seal.wrong_channel), wrong direction (seal.wrong_direction), expired
// channel (seal.channel_expired), any modification (seal.auth_failed), a
// replayed or old sequence (seal.replayed), a skipped or reordered sequence
// (seal.sequence_skipped), a timestamp outside the window
// (seal.timestamp_out_of_window).
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "crypto/aead.h"
#include "livegate/status.h"

namespace livegate::crypto {

constexpr std::size_t kChannelIdSize = 16;
constexpr std::size_t kServerNonceSize = 16;
constexpr std::size_t kSealHeaderSize = 58;

enum class Direction : std::uint8_t { kClientToServer = 1, kServerToClient = 2 };
enum class ChannelRole : std::uint8_t { kClient = 1, kServer = 2 };

// Milliseconds since the Unix epoch. Injected so tests control time.
using Clock = std::function<std::int64_t()>;
Clock SystemClock();

struct SealHeader {
  std::array<std::uint8_t, kChannelIdSize> channel_id{};
  Direction direction = Direction::kClientToServer;
  std::uint64_t sequence = 0;
  std::int64_t timestamp_ms = 0;
  std::array<std::uint8_t, kServerNonceSize> server_nonce{};
  std::uint32_t body_length = 0;
};

// The exact 58 header bytes (the AAD).
Bytes EncodeSealHeader(const SealHeader& h);
// Errors: BadInput(seal.malformed_header) for wrong size, magic, version or
// direction.
Result<SealHeader> DecodeSealHeader(ByteView bytes);

struct SealedMessage {
  SealHeader header;
  Bytes sealed;  // nonce (12) | ciphertext | tag (16)
};

struct ChannelOptions {
  // Accepted |sender timestamp - receiver clock|. Default 30 s.
  std::int64_t timestamp_window_ms = 30'000;
  // Channel lifetime from creation. Default 10 min (one flow).
  std::int64_t lifetime_ms = 10 * 60'000;
  // Largest body sealed or opened. Default 16 MiB.
  std::size_t max_body_bytes = 16u << 20;
};

class SealedChannel {
 public:
  // `session_key` is the SRP K (>= 16 bytes); `channel_id` and
  // `server_nonce` are chosen by the server (random) and sent to the client.
  static Result<SealedChannel> Create(ByteView session_key, ByteView channel_id,
                                      ByteView server_nonce, ChannelRole role,
                                      const ChannelOptions& options = {}, Clock clock = {});

  // Seals `body` for the peer. Errors: TooLarge(seal.body_too_large),
  // Expired(seal.channel_expired).
  Result<SealedMessage> Seal(ByteView body);
  // Verifies and decrypts a message from the peer; see the file comment.
  Result<Bytes> Open(const SealedMessage& message);

  // Versioned binary state (keys, next sequence per direction, expiry). It
  // holds the channel keys: store it encrypted (e.g. AeadSeal under a
  // KeyManager-derived key). Options and clock are not part of the state.
  Bytes Serialize() const;
  // Error: BadInput(seal.state_malformed).
  static Result<SealedChannel> Restore(ByteView state, const ChannelOptions& options = {},
                                       Clock clock = {});

  const std::array<std::uint8_t, kChannelIdSize>& channel_id() const { return channel_id_; }
  const std::array<std::uint8_t, kServerNonceSize>& server_nonce() const { return server_nonce_; }
  ChannelRole role() const { return role_; }
  std::uint64_t next_send_sequence() const { return next_send_; }
  std::uint64_t next_receive_sequence() const { return next_recv_; }
  std::int64_t expires_at_ms() const { return expires_at_ms_; }

 private:
  Direction SendDirection() const;
  Direction ReceiveDirection() const;

  ChannelRole role_ = ChannelRole::kServer;
  std::array<std::uint8_t, kChannelIdSize> channel_id_{};
  std::array<std::uint8_t, kServerNonceSize> server_nonce_{};
  Bytes send_key_, recv_key_;
  std::uint64_t next_send_ = 0, next_recv_ = 0;
  std::int64_t expires_at_ms_ = 0;
  ChannelOptions options_;
  Clock clock_;
};

}  // namespace livegate::crypto
