// Authenticated encryption and randomness: the primitives other modules
// (storage, protocol, server) build on. AES-256-GCM via OpenSSL 3.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "livegate/status.h"

namespace livegate::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

constexpr std::size_t kAeadKeySize = 32;    // AES-256
constexpr std::size_t kAeadNonceSize = 12;
constexpr std::size_t kAeadTagSize = 16;

// Cryptographically secure random bytes (OpenSSL RAND_bytes).
Bytes RandomBytes(std::size_t n);

// AES-256-GCM with a fresh random nonce.
// Output layout: nonce (12) || ciphertext || tag (16).
// Errors: InvalidArgument(crypto.bad_key_size).
Result<Bytes> AeadSeal(ByteView key, ByteView plaintext, ByteView aad);

// Inverse of AeadSeal. Any modification of key, sealed bytes or aad fails
// with DataLoss(crypto.aead_auth_failed); short input with
// BadInput(crypto.aead_truncated).
Result<Bytes> AeadOpen(ByteView key, ByteView sealed, ByteView aad);

// Constant-time equality of two byte strings (lengths compared first).
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace livegate::crypto
