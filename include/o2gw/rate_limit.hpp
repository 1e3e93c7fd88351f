// Token-bucket rate limiting per (client identity, route class), with bounded
// memory: idle buckets are evicted, and the table never grows past max_buckets.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

#include "o2gw/config.hpp"
#include "o2gw/http.hpp"

namespace o2gw {

class Metrics;

enum class RouteClass : std::uint8_t { read, write, admin, unauthenticated };
inline constexpr std::size_t kRouteClassCount = 4;
std::string_view route_class_name(RouteClass c);

struct RateDecision {
  bool allowed = true;
  double limit = 0;      // the bucket size (burst)
  double remaining = 0;  // whole tokens left after this request
  std::chrono::milliseconds retry_after{0};  // when refused: until one token is back
  std::chrono::milliseconds reset{0};        // until the bucket is full again
  double rate = 0;  // tokens per second (for RateLimit-Policy)
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(const RateLimitConfig& cfg, Metrics* metrics = nullptr);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token from the (identity, class) bucket. Thread-safe; cheap when allowed.
  RateDecision take(std::string_view identity, RouteClass cls, Clock::time_point now = Clock::now());
  [[nodiscard]] std::size_t bucket_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// RateLimit-Limit/-Remaining/-Reset and RateLimit-Policy on every limited
// response; Retry-After (whole seconds, at least 1) on a refusal.
void add_rate_limit_headers(const RateDecision& d, http::Response& res);

}  // namespace o2gw
