// Ed25519 signatures (OpenSSL 3) for the audit log's checkpoints
// (R-SEC-SRV-4). Raw 32-byte keys; public keys also as PEM
// (SubjectPublicKeyInfo) for operators.
#pragma once

#include <string>
#include <string_view>

#include "crypto/aead.h"
#include "livegate/status.h"

namespace livegate::crypto {

constexpr std::size_t kEd25519KeySize = 32;
constexpr std::size_t kEd25519SignatureSize = 64;

struct Ed25519KeyPair {
  Bytes private_key;  // 32-byte seed
  Bytes public_key;   // 32 bytes
};

Ed25519KeyPair GenerateEd25519();
// Errors: InvalidArgument(sign.bad_key).
Result<Bytes> Ed25519PublicFromPrivate(ByteView private_key);
Result<Bytes> Ed25519Sign(ByteView private_key, ByteView message);
bool Ed25519Verify(ByteView public_key, ByteView message, ByteView signature);

std::string Ed25519PublicKeyToPem(ByteView public_key);
// Error: BadInput(sign.bad_public_key_pem).
Result<Bytes> Ed25519PublicKeyFromPem(std::string_view pem);

}  // namespace livegate::crypto
