// AES-256-GCM, randomness and constant-time comparison on OpenSSL 3.
// Used for R-SEC-COM-4/5 (sealed messages) and R-SEC-STO-2/3 (data at rest).
#include "crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <memory>

namespace livegate::crypto {
namespace {

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

Status LibError(const char* what) {
  return Status::Internal("crypto.openssl_error", std::string("OpenSSL failed: ") + what);
}

}  // namespace

Bytes RandomBytes(std::size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    // No safe way to continue without randomness: a key or nonce would repeat.
    std::abort();
  }
  return out;
}

Result<Bytes> AeadSeal(ByteView key, ByteView plaintext, ByteView aad) {
  if (key.size() != kAeadKeySize) {
    return Status::InvalidArgument("crypto.bad_key_size", "AES-256-GCM needs a 32-byte key");
  }
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return LibError("EVP_CIPHER_CTX_new");
  Bytes out(kAeadNonceSize + plaintext.size() + kAeadTagSize);
  Bytes nonce = RandomBytes(kAeadNonceSize);
  std::copy(nonce.begin(), nonce.end(), out.begin());
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAeadNonceSize, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1) {
    return LibError("EVP_EncryptInit_ex");
  }
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return LibError("EVP_EncryptUpdate(aad)");
  }
  std::uint8_t* ct = out.data() + kAeadNonceSize;
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(ctx.get(), ct, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1) {
    return LibError("EVP_EncryptUpdate");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), ct + plaintext.size(), &final_len) != 1) {
    return LibError("EVP_EncryptFinal_ex");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagSize,
                          ct + plaintext.size()) != 1) {
    return LibError("EVP_CTRL_GCM_GET_TAG");
  }
  return out;
}

Result<Bytes> AeadOpen(ByteView key, ByteView sealed, ByteView aad) {
  if (key.size() != kAeadKeySize) {
    return Status::InvalidArgument("crypto.bad_key_size", "AES-256-GCM needs a 32-byte key");
  }
  if (sealed.size() < kAeadNonceSize + kAeadTagSize) {
    return Status::BadInput("crypto.aead_truncated",
                            "sealed data shorter than nonce + tag (28 bytes)");
  }
  const std::size_t ct_len = sealed.size() - kAeadNonceSize - kAeadTagSize;
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return LibError("EVP_CIPHER_CTX_new");
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAeadNonceSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), sealed.data()) != 1) {
    return LibError("EVP_DecryptInit_ex");
  }
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return LibError("EVP_DecryptUpdate(aad)");
  }
  Bytes out(ct_len);
  const std::uint8_t* ct = sealed.data() + kAeadNonceSize;
  if (ct_len > 0 &&
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, ct, static_cast<int>(ct_len)) != 1) {
    return LibError("EVP_DecryptUpdate");
  }
  Bytes tag(ct + ct_len, ct + ct_len + kAeadTagSize);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagSize, tag.data()) != 1) {
    return LibError("EVP_CTRL_GCM_SET_TAG");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + ct_len, &final_len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status(StatusCode::kDataLoss, "crypto.aead_auth_failed",
                  "authentication tag mismatch: wrong key, or data or context modified");
  }
  return out;
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace livegate::crypto
