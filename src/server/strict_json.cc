#include "server/strict_json.h"

#include <cmath>

namespace livegate::server {

StrictObject::StrictObject(const nlohmann::json& j, std::string path, std::string prefix)
    : j_(j), path_(std::move(path)), prefix_(std::move(prefix)) {
  if (!j_.is_object()) {
    Fail("bad_type", (path_.empty() ? std::string("the document") : path_) +
                         " must be a JSON object");
  }
}

std::string StrictObject::PathOf(const char* key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

void StrictObject::Fail(std::string reason_suffix, std::string message) {
  if (status_.ok()) {
    status_ = Status(reason_suffix == "out_of_range" || reason_suffix == "bad_value"
                         ? StatusCode::kInvalidArgument
                         : StatusCode::kBadInput,
                     prefix_ + "." + reason_suffix, std::move(message));
  }
}

bool StrictObject::Has(const char* key) const {
  return j_.is_object() && j_.contains(key);
}

void StrictObject::Require(const char* key) {
  seen_.insert(key);
  if (!Has(key)) Fail("missing", PathOf(key) + " is required");
}

void StrictObject::Bool(const char* key, bool& out) {
  seen_.insert(key);
  if (!Has(key)) return;
  const auto& v = j_.at(key);
  if (!v.is_boolean()) return Fail("bad_type", PathOf(key) + " must be true or false");
  out = v.get<bool>();
}

void StrictObject::Int(const char* key, int& out, std::int64_t min, std::int64_t max) {
  seen_.insert(key);
  if (!Has(key)) return;
  const auto& v = j_.at(key);
  if (!v.is_number_integer()) return Fail("bad_type", PathOf(key) + " must be an integer");
  const auto x = v.get<std::int64_t>();
  if (x < min || x > max) {
    return Fail("out_of_range", PathOf(key) + " = " + std::to_string(x) + " is outside [" +
                                    std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = static_cast<int>(x);
}

void StrictObject::Size(const char* key, std::size_t& out, std::uint64_t min, std::uint64_t max) {
  seen_.insert(key);
  if (!Has(key)) return;
  const auto& v = j_.at(key);
  if (!v.is_number_unsigned()) {
    return Fail("bad_type", PathOf(key) + " must be a non-negative integer");
  }
  const auto x = v.get<std::uint64_t>();
  if (x < min || x > max) {
    return Fail("out_of_range", PathOf(key) + " = " + std::to_string(x) + " is outside [" +
                                    std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = static_cast<std::size_t>(x);
}

void StrictObject::Double(const char* key, double& out, double min, double max) {
  seen_.insert(key);
  if (!Has(key)) return;
  const auto& v = j_.at(key);
  if (!v.is_number()) return Fail("bad_type", PathOf(key) + " must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < min || x > max) {
    return Fail("out_of_range", PathOf(key) + " = " + std::to_string(x) + " is outside [" +
                                    std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = x;
}

void StrictObject::String(const char* key, std::string& out, bool allow_empty) {
  seen_.insert(key);
  if (!Has(key)) return;
  const auto& v = j_.at(key);
  if (!v.is_string()) return Fail("bad_type", PathOf(key) + " must be a string");
  auto s = v.get<std::string>();
  if (!allow_empty && s.empty()) return Fail("bad_value", PathOf(key) + " must not be empty");
  out = std::move(s);
}

void StrictObject::StringList(const char* key, std::vector<std::string>& out) {
  seen_.insert(key);
  if (!Has(key)) return;
  const auto& v = j_.at(key);
  if (!v.is_array()) return Fail("bad_type", PathOf(key) + " must be an array of strings");
  std::vector<std::string> list;
  for (const auto& e : v) {
    if (!e.is_string()) return Fail("bad_type", PathOf(key) + " must be an array of strings");
    list.push_back(e.get<std::string>());
  }
  out = std::move(list);
}

const nlohmann::json* StrictObject::Child(const char* key, bool required) {
  seen_.insert(key);
  if (!Has(key)) {
    if (required) Fail("missing", PathOf(key) + " is required");
    return nullptr;
  }
  const auto& v = j_.at(key);
  if (!v.is_object()) {
    Fail("bad_type", PathOf(key) + " must be a JSON object");
    return nullptr;
  }
  return &v;
}

Status StrictObject::Finish() {
  if (status_.ok() && j_.is_object()) {
    for (const auto& [k, v] : j_.items()) {
      if (!seen_.count(k)) {
        Fail("unknown_key", PathOf(k.c_str()) + " is not a known setting (check its spelling)");
        break;
      }
    }
  }
  return status_;
}

}  // namespace livegate::server
