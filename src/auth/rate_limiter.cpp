// Token buckets per (identity, route class) in a sharded table. The hit path
// is one hash, one mutex and a lookup by string_view (no allocation); memory
// is bounded by sweeping a shard when it reaches its share of max_buckets.
#include "o2gw/rate_limit.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "o2gw/metrics.hpp"

namespace o2gw {

std::string_view route_class_name(RouteClass c) {
  switch (c) {
    case RouteClass::read: return "read";
    case RouteClass::write: return "write";
    case RouteClass::admin: return "admin";
    case RouteClass::unauthenticated: return "unauthenticated";
  }
  return "unknown";
}

namespace {

using Clock = RateLimiter::Clock;

// Large enough that two cores rarely contend on one mutex, small enough that
// each shard's share of a small max_buckets is still useful.
constexpr std::size_t kMaxShards = 16;
constexpr std::size_t kMinBucketsPerShard = 64;
// Idle buckets are also dropped every this many takes on a shard, so a table
// below its cap does not keep long-gone clients forever.
constexpr unsigned kTakesPerIdleSweep = 4096;

struct Bucket {
  double tokens = 0;
  Clock::time_point touched;  // last refill, which is also the last take
};

// Transparent hashing so find() takes the identity as a string_view.
struct IdentityHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
struct IdentityEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};
using BucketMap = std::unordered_map<std::string, Bucket, IdentityHash, IdentityEqual>;

// The class parameters, resolved once.
struct ClassLimit {
  double rate = 0;      // tokens per second; <= 0: unlimited
  double capacity = 0;  // burst
  [[nodiscard]] bool unlimited() const { return rate <= 0; }
};

struct alignas(64) Shard {
  std::mutex mutex;
  std::array<BucketMap, kRouteClassCount> maps;  // one map per class: no combined key to build
  std::size_t size = 0;
  unsigned takes_since_sweep = 0;
};

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Floating-point noise far below a token: without it, a client that waits
// exactly the advertised retry_after could still be refused.
constexpr double kTokenEpsilon = 1e-9;

std::chrono::milliseconds ceil_ms(double seconds) {
  // The epsilon keeps 0.15000000000000002 s from becoming 151 ms.
  const double ms = std::ceil(std::max(0.0, seconds) * 1000.0 - 1e-6);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(0.0, ms)));
}

}  // namespace

struct RateLimiter::Impl {
  std::array<ClassLimit, kRouteClassCount> limits;
  std::size_t shard_count = 1;
  std::size_t shard_cap = 1;
  Clock::duration idle_evict;
  Metrics* metrics = nullptr;
  std::vector<Shard> shards;
  std::atomic<std::size_t> total{0};

  Impl(const RateLimitConfig& cfg, Metrics* m)
      : idle_evict(std::chrono::duration_cast<Clock::duration>(cfg.idle_evict)),
        metrics(m),
        shards(shard_count_for(cfg.max_buckets)) {
    const auto resolve = [](const RateLimitClassConfig& c) {
      // A bucket smaller than one token would refuse everything forever.
      return ClassLimit{c.rate, std::max(c.burst, 1.0)};
    };
    limits[static_cast<std::size_t>(RouteClass::read)] = resolve(cfg.read);
    limits[static_cast<std::size_t>(RouteClass::write)] = resolve(cfg.write);
    limits[static_cast<std::size_t>(RouteClass::admin)] = resolve(cfg.admin);
    limits[static_cast<std::size_t>(RouteClass::unauthenticated)] = resolve(cfg.unauthenticated);
    shard_count = shards.size();
    // Floor, so the shards together never exceed max_buckets.
    shard_cap = std::max<std::size_t>(1, std::max<std::size_t>(cfg.max_buckets, 1) / shard_count);
  }

  static std::size_t shard_count_for(std::size_t max_buckets) {
    return std::clamp<std::size_t>(max_buckets / kMinBucketsPerShard, 1, kMaxShards);
  }

  Shard& shard_for(std::string_view identity, std::size_t cls) {
    // Mixing the class in spreads one busy client's classes over shards.
    const std::size_t h = IdentityHash{}(identity) ^ (cls * 0x9e3779b97f4a7c15ULL);
    return shards[h % shard_count];
  }

  void removed(Shard& shard, std::size_t n) {
    if (n == 0) return;
    shard.size -= n;
    total.fetch_sub(n, std::memory_order_relaxed);
    publish();
  }

  void publish() const {
    if (metrics != nullptr) metrics->set_rate_limit_buckets(static_cast<double>(total.load(std::memory_order_relaxed)));
  }

  // Drops buckets untouched for idle_evict, and (when `full_too`) buckets that
  // have refilled to capacity: a full bucket is the same as a fresh one, so
  // forgetting it loses nothing. Returns how many were dropped.
  std::size_t sweep(Shard& shard, Clock::time_point now, bool full_too) {
    std::size_t dropped = 0;
    for (std::size_t cls = 0; cls < kRouteClassCount; ++cls) {
      const ClassLimit& limit = limits[cls];
      BucketMap& map = shard.maps[cls];
      for (auto it = map.begin(); it != map.end();) {
        const Bucket& b = it->second;
        const double elapsed = std::max(0.0, seconds_between(b.touched, now));
        const bool idle = now - b.touched >= idle_evict;
        const bool full = full_too && b.tokens + elapsed * limit.rate >= limit.capacity;
        if (idle || full) {
          it = map.erase(it);
          ++dropped;
        } else {
          ++it;
        }
      }
    }
    removed(shard, dropped);
    return dropped;
  }

  // The shard is full of buckets in use: drop the least recently used eighth,
  // so the next inserts do not each pay for a scan.
  void evict_least_recent(Shard& shard) {
    struct Victim {
      Clock::time_point touched;
      std::size_t cls;
      BucketMap::iterator it;
    };
    std::vector<Victim> victims;
    victims.reserve(shard.size);
    for (std::size_t cls = 0; cls < kRouteClassCount; ++cls) {
      for (auto it = shard.maps[cls].begin(); it != shard.maps[cls].end(); ++it) {
        victims.push_back({it->second.touched, cls, it});
      }
    }
    const std::size_t n = std::clamp<std::size_t>(victims.size() / 8, 1, victims.size());
    std::nth_element(victims.begin(), victims.begin() + static_cast<std::ptrdiff_t>(n - 1), victims.end(),
                     [](const Victim& a, const Victim& b) { return a.touched < b.touched; });
    for (std::size_t i = 0; i < n; ++i) shard.maps[victims[i].cls].erase(victims[i].it);
    removed(shard, n);
  }

  void make_room(Shard& shard, Clock::time_point now) {
    if (shard.size < shard_cap) return;
    if (sweep(shard, now, /*full_too=*/true) > 0 && shard.size < shard_cap) return;
    evict_least_recent(shard);
  }

  RateDecision take(std::string_view identity, RouteClass cls, Clock::time_point now) {
    const auto index = static_cast<std::size_t>(cls);
    const ClassLimit& limit = limits[index];
    RateDecision d;
    // Unlimited: limit 0 tells callers there is no policy to advertise.
    if (limit.unlimited()) return d;
    d.limit = limit.capacity;
    d.rate = limit.rate;

    Shard& shard = shard_for(identity, index);
    std::unique_lock lock(shard.mutex);
    if (++shard.takes_since_sweep >= kTakesPerIdleSweep) {
      shard.takes_since_sweep = 0;
      sweep(shard, now, /*full_too=*/false);
    }
    BucketMap& map = shard.maps[index];
    auto it = map.find(identity);
    if (it == map.end()) {
      make_room(shard, now);
      it = map.emplace(std::string(identity), Bucket{limit.capacity, now}).first;
      ++shard.size;
      total.fetch_add(1, std::memory_order_relaxed);
      publish();
    }
    Bucket& b = it->second;
    // Callers read the clock before taking the lock, so `now` may be a little
    // behind the bucket's time: never refill backwards.
    if (now > b.touched) {
      b.tokens = std::min(limit.capacity, b.tokens + seconds_between(b.touched, now) * limit.rate);
      b.touched = now;
    }
    d.allowed = b.tokens >= 1.0 - kTokenEpsilon;
    if (d.allowed) b.tokens = std::max(0.0, b.tokens - 1.0);
    const double tokens = b.tokens;
    lock.unlock();

    d.remaining = std::floor(tokens);
    d.reset = ceil_ms((limit.capacity - tokens) / limit.rate);
    if (!d.allowed) {
      d.retry_after = ceil_ms((1.0 - tokens) / limit.rate);
      if (metrics != nullptr) metrics->count_rate_limited(route_class_name(cls));
    }
    return d;
  }
};

RateLimiter::RateLimiter(const RateLimitConfig& cfg, Metrics* metrics)
    : impl_(std::make_unique<Impl>(cfg, metrics)) {}

RateLimiter::~RateLimiter() = default;

RateDecision RateLimiter::take(std::string_view identity, RouteClass cls, Clock::time_point now) {
  return impl_->take(identity, cls, now);
}

std::size_t RateLimiter::bucket_count() const { return impl_->total.load(std::memory_order_relaxed); }

namespace {
std::string whole(double v) { return std::to_string(static_cast<long long>(v)); }
std::string ceil_seconds(std::chrono::milliseconds ms) { return std::to_string((ms.count() + 999) / 1000); }
}  // namespace

void add_rate_limit_headers(const RateDecision& d, http::Response& res) {
  // An unlimited class has no policy to advertise.
  if (d.rate <= 0) return;
  res.set_header("RateLimit-Limit", whole(std::floor(d.limit)));
  res.set_header("RateLimit-Remaining", whole(std::max(0.0, d.remaining)));
  res.set_header("RateLimit-Reset", ceil_seconds(d.reset));
  res.set_header("RateLimit-Policy", whole(std::floor(d.limit)) + ";w=" + whole(std::ceil(d.limit / d.rate)));
  if (!d.allowed) {
    res.set_header("Retry-After", std::to_string(std::max<std::int64_t>(1, (d.retry_after.count() + 999) / 1000)));
  }
}

}  // namespace o2gw
