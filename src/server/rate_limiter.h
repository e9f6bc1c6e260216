// Rate limits per account, device and network address (R-SEC-SRV-1,
// decision 11.9): a token bucket per key, refilled continuously at
// `per_minute` tokens a minute with a burst of `per_minute`. In memory,
// per process: it throttles floods; the durable lockout (failures per
// account and device) lives in the database and is shared by all processes.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace livegate::server {

class RateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit RateLimiter(int per_minute, Clock clock = [] { return std::chrono::steady_clock::now(); });
  // Takes one token for `key`; false when the bucket is empty (or per_minute 0 = no limit -> true).
  bool Allow(const std::string& key);
  // True when Allow(key) would succeed now; takes nothing (a bucket that
  // is spent only by failures, e.g. wrong admin tokens).
  bool Available(const std::string& key);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  int per_minute_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace livegate::server
