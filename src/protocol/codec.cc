#include "protocol/codec.h"

#include <cmath>
#include <vector>

#include "crypto/kdf.h"

namespace livegate::protocol {
namespace {

// Nesting depth without parsing (strings and escapes skipped), so a hostile
// "[[[[..." never reaches the parser.
int MaxDepth(std::string_view t) {
  int depth = 0, max = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') max = std::max(max, ++depth);
    else if (c == '}' || c == ']') --depth;
  }
  return max;
}

const char* TypeName(const nlohmann::json& j) { return j.type_name(); }

}  // namespace

Result<nlohmann::json> ParseJsonObject(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status::TooLarge("codec.too_large", "message of " + std::to_string(text.size()) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(limits.max_bytes));
  }
  if (MaxDepth(text) > limits.max_depth) {
    return Status::BadInput("codec.too_deep", "message nests deeper than " +
                                                  std::to_string(limits.max_depth) + " levels");
  }
  // Duplicate keys are ambiguous (which one wins?): reject them.
  std::vector<std::set<std::string>> keys;
  bool duplicate = false;
  std::string duplicate_key;
  auto cb = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) {
      keys.emplace_back();
    } else if (ev == E::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (ev == E::key && !keys.empty()) {
      const std::string k = parsed.get<std::string>();
      if (!keys.back().insert(k).second && !duplicate) {
        duplicate = true;
        duplicate_key = k;
      }
    }
    return true;
  };
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), cb,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Status::BadInput("codec.bad_json", "message is not valid JSON");
  }
  if (duplicate) {
    return Status::BadInput("codec.duplicate_key", "field '" + duplicate_key + "' appears twice");
  }
  if (!doc.is_object()) {
    return Status::BadInput("codec.not_object", "message must be a JSON object");
  }
  return doc;
}

ObjectReader::ObjectReader(const nlohmann::json& object, std::string path)
    : object_(object), path_(std::move(path)) {}

Status ObjectReader::Error(std::string reason, std::string_view key, const std::string& what) const {
  return Status::BadInput(std::move(reason), path_ + "." + std::string(key) + ": " + what);
}

Result<const nlohmann::json*> ObjectReader::Field(std::string_view key, bool required) {
  if (!object_.is_object()) {
    return Status::BadInput("codec.wrong_type", path_ + ": expected an object");
  }
  read_.insert(std::string(key));
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) {
    if (required) return Error("codec.missing_field", key, "required field is missing");
    return static_cast<const nlohmann::json*>(nullptr);
  }
  return &*it;
}

Result<std::optional<std::string>> ObjectReader::OptionalString(std::string_view key,
                                                                std::size_t min_len,
                                                                std::size_t max_len) {
  LG_ASSIGN_OR_RETURN(const nlohmann::json* f, Field(key, false));
  if (f == nullptr) return std::optional<std::string>();
  if (!f->is_string()) {
    return Error("codec.wrong_type", key, std::string("expected a string, got ") + TypeName(*f));
  }
  const auto& s = f->get_ref<const std::string&>();
  if (s.size() < min_len || s.size() > max_len) {
    return Error("codec.string_length", key,
                 "length " + std::to_string(s.size()) + " outside [" + std::to_string(min_len) +
                     ", " + std::to_string(max_len) + "]");
  }
  return std::optional<std::string>(s);
}

Result<std::string> ObjectReader::String(std::string_view key, std::size_t min_len,
                                         std::size_t max_len) {
  LG_ASSIGN_OR_RETURN(const nlohmann::json* f, Field(key, true));
  (void)f;
  read_.erase(std::string(key));  // re-read below through OptionalString
  LG_ASSIGN_OR_RETURN(std::optional<std::string> s, OptionalString(key, min_len, max_len));
  return std::move(*s);
}

Result<std::string> ObjectReader::Enum(std::string_view key,
                                       std::initializer_list<std::string_view> allowed) {
  LG_ASSIGN_OR_RETURN(std::string s, String(key, 0, 256));
  for (auto a : allowed) {
    if (s == a) return s;
  }
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  return Error("codec.bad_enum", key, "'" + s + "' is not one of: " + list);
}

Result<std::int64_t> ObjectReader::Integer(std::string_view key, std::int64_t min,
                                           std::int64_t max) {
  LG_ASSIGN_OR_RETURN(const nlohmann::json* f, Field(key, true));
  if (!f->is_number_integer()) {
    return Error("codec.wrong_type", key, std::string("expected an integer, got ") + TypeName(*f));
  }
  std::int64_t v;
  if (f->is_number_unsigned()) {
    const auto u = f->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) {
      return Error("codec.out_of_range", key, "integer too large");
    }
    v = static_cast<std::int64_t>(u);
  } else {
    v = f->get<std::int64_t>();
  }
  if (v < min || v > max) {
    return Error("codec.out_of_range", key,
                 std::to_string(v) + " outside [" + std::to_string(min) + ", " +
                     std::to_string(max) + "]");
  }
  return v;
}

Result<double> ObjectReader::Number(std::string_view key, double min, double max) {
  LG_ASSIGN_OR_RETURN(const nlohmann::json* f, Field(key, true));
  if (!f->is_number()) {
    return Error("codec.wrong_type", key, std::string("expected a number, got ") + TypeName(*f));
  }
  const double v = f->get<double>();
  if (!std::isfinite(v) || v < min || v > max) {
    return Error("codec.out_of_range", key, "value outside the allowed range");
  }
  return v;
}

Result<bool> ObjectReader::Bool(std::string_view key) {
  LG_ASSIGN_OR_RETURN(const nlohmann::json* f, Field(key, true));
  if (!f->is_boolean()) {
    return Error("codec.wrong_type", key, std::string("expected a boolean, got ") + TypeName(*f));
  }
  return f->get<bool>();
}

Result<std::optional<crypto::Bytes>> ObjectReader::OptionalBase64Url(std::string_view key,
                                                                     std::size_t max_decoded,
                                                                     std::size_t min_decoded) {
  LG_ASSIGN_OR_RETURN(const nlohmann::json* f, Field(key, false));
  if (f == nullptr) return std::optional<crypto::Bytes>();
  if (!f->is_string()) {
    return Error("codec.wrong_type", key,
                 std::string("expected a base64url string, got ") + TypeName(*f));
  }
  const auto& s = f->get_ref<const std::string&>();
  const std::size_t max_text = (max_decoded * 4 + 2) / 3;
  if (s.size() > max_text) {
    return Error("codec.field_too_large", key,
                 "decodes to more than " + std::to_string(max_decoded) + " bytes");
  }
  auto bytes = crypto::Base64UrlDecode(s);
  if (!bytes.ok()) return Error("codec.bad_base64url", key, bytes.status().message());
  if (bytes->size() < min_decoded || bytes->size() > max_decoded) {
    return Error(bytes->size() < min_decoded ? "codec.field_too_small" : "codec.field_too_large", key,
                 "decoded size " + std::to_string(bytes->size()) + " outside [" +
                     std::to_string(min_decoded) + ", " + std::to_string(max_decoded) + "]");
  }
  return std::optional<crypto::Bytes>(std::move(*bytes));
}

Result<crypto::Bytes> ObjectReader::Base64Url(std::string_view key, std::size_t max_decoded,
                                              std::size_t min_decoded) {
  LG_ASSIGN_OR_RETURN(const nlohmann::json* f, Field(key, true));
  (void)f;
  LG_ASSIGN_OR_RETURN(std::optional<crypto::Bytes> b,
                      OptionalBase64Url(key, max_decoded, min_decoded));
  return std::move(*b);
}

Result<const nlohmann::json*> ObjectReader::Object(std::string_view key) {
  LG_ASSIGN_OR_RETURN(const nlohmann::json* f, Field(key, true));
  if (!f->is_object()) {
    return Error("codec.wrong_type", key, std::string("expected an object, got ") + TypeName(*f));
  }
  return f;
}

Result<const nlohmann::json*> ObjectReader::Array(std::string_view key, std::size_t max_items) {
  LG_ASSIGN_OR_RETURN(const nlohmann::json* f, Field(key, true));
  if (!f->is_array()) {
    return Error("codec.wrong_type", key, std::string("expected an array, got ") + TypeName(*f));
  }
  if (f->size() > max_items) {
    return Error("codec.too_many_items", key,
                 std::to_string(f->size()) + " items, at most " + std::to_string(max_items));
  }
  return f;
}

Status ObjectReader::Finish() const {
  if (!object_.is_object()) return Status::Ok();
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (read_.find(it.key()) == read_.end()) {
      return Status::BadInput("codec.unknown_field",
                              path_ + ": unknown field '" + it.key() + "'");
    }
  }
  return Status::Ok();
}

}  // namespace livegate::protocol
