// Strict validation of the JSON messages of the flows (R-SEC-COM-4: encode
// and check what crosses the wire; "bad input gets a clear, specific error").
// The size limit is checked before parsing; then nesting depth, duplicate
// keys, required fields, types, string lengths, integer ranges, base64url
// fields with a maximum decoded size, and unknown fields (Finish()).
//
//   LG_ASSIGN_OR_RETURN(auto doc, ParseJsonObject(body, limits));
//   ObjectReader r(doc, "srp_start");
//   LG_ASSIGN_OR_RETURN(std::string account, r.String("account_id", 1, 128));
//   LG_ASSIGN_OR_RETURN(crypto::Bytes a, r.Base64Url("A", 1024, 256));
//   LG_RETURN_IF_ERROR(r.Finish());   // rejects any field not read
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/aead.h"
#include "livegate/status.h"

namespace livegate::protocol {

struct JsonLimits {
  // Largest accepted message text in bytes (checked before parsing).
  // Default 64 KiB: flow messages are small; capture packages travel sealed.
  std::size_t max_bytes = 64u << 10;
  // Deepest nesting of objects/arrays. Default 8.
  int max_depth = 8;
};

// Parses a JSON object. Errors: TooLarge(codec.too_large),
// BadInput(codec.bad_json | codec.too_deep | codec.duplicate_key |
// codec.not_object).
Result<nlohmann::json> ParseJsonObject(std::string_view text, const JsonLimits& limits = {});

// Reads the fields of one object, each at most once, and remembers which
// ones were read so Finish() can reject the rest. All errors are BadInput
// with the field path in the message; reasons: codec.missing_field,
// codec.wrong_type, codec.string_length, codec.out_of_range,
// codec.bad_base64url, codec.field_too_large, codec.field_too_small, codec.too_many_items,
// codec.unknown_field, codec.bad_enum.
class ObjectReader {
 public:
  // `object` must outlive the reader. `path` names it in messages.
  ObjectReader(const nlohmann::json& object, std::string path);

  Result<std::string> String(std::string_view key, std::size_t min_len, std::size_t max_len);
  Result<std::optional<std::string>> OptionalString(std::string_view key, std::size_t min_len,
                                                    std::size_t max_len);
  // One of `allowed`.
  Result<std::string> Enum(std::string_view key, std::initializer_list<std::string_view> allowed);
  Result<std::int64_t> Integer(std::string_view key, std::int64_t min, std::int64_t max);
  Result<double> Number(std::string_view key, double min, double max);
  Result<bool> Bool(std::string_view key);
  // Unpadded base64url; decoded size in [min_decoded, max_decoded]. The text
  // length is checked against max_decoded before decoding.
  Result<crypto::Bytes> Base64Url(std::string_view key, std::size_t max_decoded,
                                  std::size_t min_decoded = 0);
  Result<std::optional<crypto::Bytes>> OptionalBase64Url(std::string_view key,
                                                         std::size_t max_decoded,
                                                         std::size_t min_decoded = 0);
  // Nested object / array (not copied); array length <= max_items.
  Result<const nlohmann::json*> Object(std::string_view key);
  Result<const nlohmann::json*> Array(std::string_view key, std::size_t max_items);

  // BadInput(codec.unknown_field) naming the first field never read.
  Status Finish() const;

  const std::string& path() const { return path_; }

 private:
  Result<const nlohmann::json*> Field(std::string_view key, bool required);
  Status Error(std::string reason, std::string_view key, const std::string& what) const;

  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string, std::less<>> read_;
};

}  // namespace livegate::protocol
