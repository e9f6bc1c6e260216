#include "server/rate_limiter.h"

#include <algorithm>

namespace livegate::server {

RateLimiter::RateLimiter(int per_minute, Clock clock)
    : per_minute_(per_minute), clock_(std::move(clock)) {}

bool RateLimiter::Allow(const std::string& key) {
  if (per_minute_ <= 0) return true;
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  // Bound memory under a flood of distinct keys: drop full (idle) buckets.
  if (buckets_.size() > 100000) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      const double idle = std::chrono::duration<double>(now - it->second.last).count();
      it = idle > 60.0 ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{static_cast<double>(per_minute_), now});
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min<double>(per_minute_, b.tokens + elapsed * per_minute_ / 60.0);
  b.last = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

bool RateLimiter::Available(const std::string& key) {
  if (per_minute_ <= 0) return true;
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return true;
  const double elapsed = std::chrono::duration<double>(now - it->second.last).count();
  return std::min<double>(per_minute_, it->second.tokens + elapsed * per_minute_ / 60.0) >= 1.0;
}

}  // namespace livegate::server
