// Fuzzes the audit-log verifier (a log file is untrusted input to
// `livegate-admin audit verify`): lines split on '\n'.
#include <cstdint>
#include <string>
#include <vector>

#include "crypto/audit_log.h"
#include "crypto/signing.h"

using namespace livegate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const crypto::Bytes pub = crypto::GenerateEd25519().public_key;
  std::vector<std::string> lines;
  std::string cur;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  const auto r = crypto::VerifyAuditLog(lines, pub);
  if (!r.intact && (r.first_bad_index < 0 || r.first_bad_index >= static_cast<std::int64_t>(lines.size()))) {
    __builtin_trap();  // a reported index always names a real line
  }
  (void)crypto::Ed25519PublicKeyFromPem(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
