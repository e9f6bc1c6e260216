// Fuzzes the strict JSON codec with a representative flow-message schema.
#include <cstdint>
#include <string_view>

#include "protocol/codec.h"

using namespace livegate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = protocol::ParseJsonObject(text);
  if (!doc.ok()) return 0;
  protocol::ObjectReader r(*doc, "msg");
  (void)r.String("account_id", 1, 128);
  (void)r.Integer("n", -5, 5);
  (void)r.Number("score", 0, 1);
  (void)r.Bool("flag");
  (void)r.Base64Url("A", 1024, 1);
  (void)r.OptionalBase64Url("M1", 64);
  (void)r.Enum("kind", {"face", "voice"});
  if (auto o = r.Object("meta"); o.ok()) {
    protocol::ObjectReader inner(**o, "msg.meta");
    (void)inner.OptionalString("k", 0, 10);
    (void)inner.Finish();
  }
  (void)r.Array("list", 4);
  (void)r.Finish();
  return 0;
}
