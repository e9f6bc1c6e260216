// Strict reading of JSON configuration objects: every key must be known,
// every value of the right type and range, and the first error names the
// JSON path ("limits.thread_pool_size") so an operator can fix it at once.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "livegate/status.h"

namespace livegate::server {

class StrictObject {
 public:
  // `prefix` is the reason prefix ("config" or "policy").
  StrictObject(const nlohmann::json& j, std::string path, std::string prefix);

  // Optional fields keep their default when absent.
  void Bool(const char* key, bool& out);
  void Int(const char* key, int& out, std::int64_t min, std::int64_t max);
  void Size(const char* key, std::size_t& out, std::uint64_t min, std::uint64_t max);
  void Double(const char* key, double& out, double min, double max);
  void String(const char* key, std::string& out, bool allow_empty = true);
  void StringList(const char* key, std::vector<std::string>& out);
  bool Has(const char* key) const;
  // A nested object; returns a null json when absent (caller checks).
  const nlohmann::json* Child(const char* key, bool required);
  void Require(const char* key);

  std::string PathOf(const char* key) const;
  // Records an error (first one wins).
  void Fail(std::string reason_suffix, std::string message);
  // Call after reading every field: unknown keys are an error.
  Status Finish();
  const Status& status() const { return status_; }

 private:
  const nlohmann::json& j_;
  std::string path_;
  std::string prefix_;
  std::set<std::string> seen_;
  Status status_;
};

}  // namespace livegate::server
