// Hashes, HMAC and HKDF (RFC 5869) on OpenSSL 3, plus hex / base64url
// encoding shared by the crypto and protocol modules.
#pragma once

#include <string>
#include <string_view>

#include "crypto/aead.h"
#include "livegate/status.h"

namespace livegate::crypto {

Bytes Sha256(ByteView data);
Bytes HmacSha256(ByteView key, ByteView data);
// HKDF-SHA256 extract-then-expand; `length` <= 255 * 32.
Bytes HkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length);

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string HexEncode(ByteView data);
// Accepts upper/lower case; whitespace is NOT skipped.
// Error: BadInput(encoding.bad_hex).
Result<Bytes> HexDecode(std::string_view hex);

// RFC 4648 section 5, without padding on output; input padding is rejected
// (one canonical form). Error: BadInput(encoding.bad_base64url).
std::string Base64UrlEncode(ByteView data);
Result<Bytes> Base64UrlDecode(std::string_view text);

// Overwrites secret bytes before release.
void Cleanse(Bytes& b);

}  // namespace livegate::crypto
