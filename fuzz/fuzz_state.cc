// Fuzzes every decoder of stored or wrapped state: SRP server session,
// sealed-channel state, wrapped data keys, hex and base64url.
#include <cstdint>
#include <string_view>

#include "crypto/kdf.h"
#include "crypto/key_manager.h"
#include "crypto/sealed_channel.h"
#include "crypto/srp6a.h"

using namespace livegate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  crypto::ByteView in(data, size);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto s = crypto::SrpServerSession::Restore(in); s.ok()) {
    if (s->Serialize() != crypto::Bytes(in.begin(), in.end())) __builtin_trap();
  }
  if (auto c = crypto::SealedChannel::Restore(in); c.ok()) {
    if (c->Serialize() != crypto::Bytes(in.begin(), in.end())) __builtin_trap();
  }
  static const auto km = crypto::KeyManager::FromKeys(crypto::Bytes(32, 3));
  (void)km->UnwrapKey(in, "user:1");
  if (auto b = crypto::Base64UrlDecode(text); b.ok()) {
    if (crypto::Base64UrlEncode(*b) != text) __builtin_trap();  // canonical
  }
  if (auto h = crypto::HexDecode(text); h.ok()) {
    if (h->size() * 2 != text.size()) __builtin_trap();
  }
  return 0;
}
