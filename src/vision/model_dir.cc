#include <cstdlib>

#include <openssl/evp.h>

#include "vision/models.h"

namespace livegate::vision {

std::filesystem::path DefaultModelDir() {
  const char* env = std::getenv("LIVEGATE_MODELS");
  return (env && *env) ? std::filesystem::path(env) : std::filesystem::path(LIVEGATE_MODEL_DIR_DEFAULT);
}

std::string ModelSha256Hex(const std::vector<unsigned char>& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

}  // namespace livegate::vision
