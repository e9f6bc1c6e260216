#include "crypto/signing.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>

namespace livegate::crypto {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

PkeyPtr PrivateKey(ByteView k) {
  if (k.size() != kEd25519KeySize) return nullptr;
  return PkeyPtr(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, k.data(), k.size()));
}
PkeyPtr PublicKey(ByteView k) {
  if (k.size() != kEd25519KeySize) return nullptr;
  return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, k.data(), k.size()));
}

}  // namespace

Ed25519KeyPair GenerateEd25519() {
  Ed25519KeyPair kp;
  kp.private_key = RandomBytes(kEd25519KeySize);
  kp.public_key = *Ed25519PublicFromPrivate(kp.private_key);
  return kp;
}

Result<Bytes> Ed25519PublicFromPrivate(ByteView private_key) {
  PkeyPtr key = PrivateKey(private_key);
  if (!key) return Status::InvalidArgument("sign.bad_key", "Ed25519 private key must be 32 bytes");
  Bytes pub(kEd25519KeySize);
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1) {
    return Status::Internal("crypto.openssl_error", "EVP_PKEY_get_raw_public_key failed");
  }
  return pub;
}

Result<Bytes> Ed25519Sign(ByteView private_key, ByteView message) {
  PkeyPtr key = PrivateKey(private_key);
  if (!key) return Status::InvalidArgument("sign.bad_key", "Ed25519 private key must be 32 bytes");
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  Bytes sig(kEd25519SignatureSize);
  std::size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1) {
    return Status::Internal("crypto.openssl_error", "Ed25519 signing failed");
  }
  return sig;
}

bool Ed25519Verify(ByteView public_key, ByteView message, ByteView signature) {
  PkeyPtr key = PublicKey(public_key);
  if (!key || signature.size() != kEd25519SignatureSize) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                          message.size()) == 1;
}

std::string Ed25519PublicKeyToPem(ByteView public_key) {
  PkeyPtr key = PublicKey(public_key);
  if (!key) return {};
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Result<Bytes> Ed25519PublicKeyFromPem(std::string_view pem) {
  const Status bad = Status::BadInput("sign.bad_public_key_pem", "not a PEM Ed25519 public key");
  if (pem.size() > 4096) return bad;
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return bad;
  Bytes pub(kEd25519KeySize);
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 || len != kEd25519KeySize) {
    return bad;
  }
  return pub;
}

}  // namespace livegate::crypto
