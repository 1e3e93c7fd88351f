#include "o2gw/rate_limit.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "o2gw/metrics.hpp"

namespace o2gw {
namespace {

using Clock = RateLimiter::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

RateLimitConfig config(double rate, double burst) {
  RateLimitConfig cfg;
  cfg.enabled = true;
  cfg.read = {rate, burst};
  cfg.write = {rate, burst};
  cfg.admin = {rate, burst};
  cfg.unauthenticated = {rate, burst};
  return cfg;
}

std::string header(const http::Response& res, std::string_view name) {
  for (const auto& h : res.headers) {
    if (h.name == name) return h.value;
  }
  return "<absent>";
}

TEST(RateLimiter, AllowsTheBurstThenRefuses) {
  RateLimiter limiter(config(1, 5));
  const auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) {
    const RateDecision d = limiter.take("alice", RouteClass::read, t0);
    ASSERT_TRUE(d.allowed) << "request " << i;
    EXPECT_EQ(d.remaining, 4 - i);
    EXPECT_EQ(d.limit, 5);
  }
  const RateDecision refused = limiter.take("alice", RouteClass::read, t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
}

TEST(RateLimiter, RefillsContinuouslyFromTheInjectedClock) {
  RateLimiter limiter(config(10, 2));  // one token per 100 ms
  const auto t0 = Clock::now();
  ASSERT_TRUE(limiter.take("a", RouteClass::write, t0).allowed);
  ASSERT_TRUE(limiter.take("a", RouteClass::write, t0).allowed);
  ASSERT_FALSE(limiter.take("a", RouteClass::write, t0).allowed);
  EXPECT_FALSE(limiter.take("a", RouteClass::write, t0 + milliseconds(99)).allowed);
  EXPECT_TRUE(limiter.take("a", RouteClass::write, t0 + milliseconds(100)).allowed);
  // Long idle: refilled to the burst, not beyond.
  const auto later = t0 + seconds(60);
  EXPECT_TRUE(limiter.take("a", RouteClass::write, later).allowed);
  EXPECT_TRUE(limiter.take("a", RouteClass::write, later).allowed);
  EXPECT_FALSE(limiter.take("a", RouteClass::write, later).allowed);
}

TEST(RateLimiter, RetryAfterAndResetSayWhenTokensReturn) {
  RateLimiter limiter(config(4, 2));  // one token per 250 ms
  const auto t0 = Clock::now();
  limiter.take("a", RouteClass::read, t0);
  const RateDecision last = limiter.take("a", RouteClass::read, t0);
  ASSERT_TRUE(last.allowed);
  EXPECT_EQ(last.reset, milliseconds(500));  // two tokens to refill
  const RateDecision refused = limiter.take("a", RouteClass::read, t0 + milliseconds(100));
  ASSERT_FALSE(refused.allowed);
  // 0.4 tokens are back; 0.6 more need 150 ms.
  EXPECT_EQ(refused.retry_after, milliseconds(150));
  EXPECT_EQ(refused.reset, milliseconds(400));
  EXPECT_EQ(refused.rate, 4);
  EXPECT_TRUE(limiter.take("a", RouteClass::read, t0 + milliseconds(100) + refused.retry_after).allowed);
}

TEST(RateLimiter, ClassesAndIdentitiesAreIndependent) {
  RateLimitConfig cfg = config(1, 1);
  cfg.admin = {1, 3};
  RateLimiter limiter(cfg);
  const auto t0 = Clock::now();
  ASSERT_TRUE(limiter.take("alice", RouteClass::read, t0).allowed);
  EXPECT_FALSE(limiter.take("alice", RouteClass::read, t0).allowed);
  EXPECT_TRUE(limiter.take("alice", RouteClass::write, t0).allowed);
  EXPECT_TRUE(limiter.take("bob", RouteClass::read, t0).allowed);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.take("alice", RouteClass::admin, t0).allowed);
  EXPECT_FALSE(limiter.take("alice", RouteClass::admin, t0).allowed);
  // An identity that is a prefix of another is still another identity.
  EXPECT_TRUE(limiter.take("alic", RouteClass::read, t0).allowed);
  EXPECT_EQ(limiter.bucket_count(), 5u);
}

TEST(RateLimiter, ClassWithoutRateIsUnlimitedAndHoldsNoBucket) {
  RateLimitConfig cfg = config(1, 1);
  cfg.read = {0, 0};
  RateLimiter limiter(cfg);
  const auto t0 = Clock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.take("alice", RouteClass::read, t0).allowed);
  EXPECT_EQ(limiter.take("alice", RouteClass::read, t0).limit, 0) << "no policy to advertise";
  EXPECT_EQ(limiter.bucket_count(), 0u);
  EXPECT_TRUE(limiter.take("alice", RouteClass::write, t0).allowed);
  EXPECT_FALSE(limiter.take("alice", RouteClass::write, t0).allowed);
}

TEST(RateLimiter, BucketCountStaysBoundedUnderManyIdentities) {
  RateLimitConfig cfg = config(1, 10);
  cfg.max_buckets = 1000;
  Metrics metrics;
  RateLimiter limiter(cfg, &metrics);
  const auto t0 = Clock::now();
  std::size_t peak = 0;
  for (int i = 0; i < 100000; ++i) {
    // Everyone is active (nothing idle, nothing refilled): only LRU eviction can keep the bound.
    ASSERT_TRUE(limiter.take("client-" + std::to_string(i), RouteClass::read, t0 + milliseconds(i / 1000)).allowed);
    peak = std::max(peak, limiter.bucket_count());
  }
  EXPECT_LE(peak, 1000u);
  EXPECT_GT(limiter.bucket_count(), 500u) << "eviction should not empty the table";
  EXPECT_NE(metrics.render().find("o2gw_rate_limit_buckets " + std::to_string(limiter.bucket_count())),
            std::string::npos);
}

TEST(RateLimiter, IdleBucketsAreEvicted) {
  RateLimitConfig cfg = config(0.001, 5);  // so slow that nothing refills to full during the test
  cfg.max_buckets = 10;                    // one shard: the test knows which buckets compete
  cfg.idle_evict = seconds(600);
  RateLimiter limiter(cfg);
  const auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) limiter.take("old", RouteClass::read, t0);
  ASSERT_FALSE(limiter.take("old", RouteClass::read, t0).allowed);
  for (int i = 0; i < 9; ++i) limiter.take("c" + std::to_string(i), RouteClass::read, t0 + seconds(1));
  ASSERT_EQ(limiter.bucket_count(), 10u);
  // At the cap, 600 s after "old" was last touched: only "old" is idle, so only it goes.
  ASSERT_TRUE(limiter.take("new", RouteClass::read, t0 + seconds(600)).allowed);
  EXPECT_EQ(limiter.bucket_count(), 10u);
  EXPECT_EQ(limiter.take("c0", RouteClass::read, t0 + seconds(600)).remaining, 3) << "in use: kept its state";
  EXPECT_EQ(limiter.take("old", RouteClass::read, t0 + seconds(600)).remaining, 4) << "came back as a fresh bucket";
}

TEST(RateLimiter, OpportunisticSweepDropsIdleBucketsBelowTheCap) {
  RateLimitConfig cfg = config(1, 5);
  cfg.idle_evict = seconds(10);
  RateLimiter limiter(cfg);  // the default max_buckets: never at the cap here
  const auto t0 = Clock::now();
  for (int i = 0; i < 100; ++i) limiter.take("gone-" + std::to_string(i), RouteClass::read, t0);
  ASSERT_EQ(limiter.bucket_count(), 100u);
  // Active clients keep hitting every shard long after the others left.
  std::vector<std::string> active;
  for (int i = 0; i < 1024; ++i) active.push_back("active-" + std::to_string(i));
  for (int i = 0; i < 400000; ++i) limiter.take(active[i % active.size()], RouteClass::write, t0 + seconds(20));
  EXPECT_EQ(limiter.bucket_count(), active.size());
}

TEST(RateLimiter, AtTheCapRefilledBucketsGoBeforeOlderBucketsInUse) {
  RateLimitConfig cfg = config(1, 5);
  cfg.max_buckets = 10;  // one shard
  RateLimiter limiter(cfg);
  const auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) limiter.take("hot", RouteClass::read, t0);  // least recently used, drained
  for (int i = 0; i < 9; ++i) limiter.take("c" + std::to_string(i), RouteClass::read, t0 + milliseconds(500));
  // At t0+2s the c* buckets are full again (4 + 1.5 tokens), "hot" holds 2.
  const auto t2 = t0 + seconds(2);
  ASSERT_TRUE(limiter.take("newcomer", RouteClass::read, t2).allowed);
  EXPECT_EQ(limiter.bucket_count(), 2u);
  const RateDecision hot = limiter.take("hot", RouteClass::read, t2);
  EXPECT_TRUE(hot.allowed);
  EXPECT_EQ(hot.remaining, 1) << "the drained bucket kept its state";
}

TEST(RateLimiter, ConcurrentTakesNeverExceedBurstPlusRefill) {
  constexpr double kRate = 1000;
  constexpr double kBurst = 50;
  RateLimiter limiter(config(kRate, kBurst));
  std::atomic<long> allowed{0};
  std::atomic<long> refused{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        // Half the traffic on one shared identity, half on per-thread ones.
        const std::string identity = (i % 2 == 0) ? "shared" : "own-" + std::to_string(t);
        if (identity == "shared") {
          (limiter.take(identity, RouteClass::read).allowed ? allowed : refused).fetch_add(1);
        } else {
          limiter.take(identity, RouteClass::read);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_EQ(allowed + refused, 4 * 10000);
  EXPECT_GE(allowed.load(), static_cast<long>(kBurst));
  EXPECT_LE(static_cast<double>(allowed.load()), kBurst + kRate * elapsed + 1);
  EXPECT_EQ(limiter.bucket_count(), 5u);
}

TEST(RateLimitHeaders, AllowedResponseCarriesPolicyInWholeNumbers) {
  RateDecision d;
  d.allowed = true;
  d.limit = 400;
  d.remaining = 398;
  d.rate = 200;
  d.reset = milliseconds(10);
  http::Response res;
  add_rate_limit_headers(d, res);
  EXPECT_EQ(header(res, "RateLimit-Limit"), "400");
  EXPECT_EQ(header(res, "RateLimit-Remaining"), "398");
  EXPECT_EQ(header(res, "RateLimit-Reset"), "1");
  EXPECT_EQ(header(res, "RateLimit-Policy"), "400;w=2");
  EXPECT_EQ(header(res, "Retry-After"), "<absent>");
}

TEST(RateLimitHeaders, RefusalAddsRetryAfterOfAtLeastOneSecond) {
  RateLimiter limiter(config(20, 40));
  const auto t0 = Clock::now();
  RateDecision d;
  for (int i = 0; i < 41; ++i) d = limiter.take("x", RouteClass::write, t0);
  ASSERT_FALSE(d.allowed);
  http::Response res;
  add_rate_limit_headers(d, res);
  EXPECT_EQ(header(res, "Retry-After"), "1");  // 50 ms, rounded up
  EXPECT_EQ(header(res, "RateLimit-Remaining"), "0");
  EXPECT_EQ(header(res, "RateLimit-Reset"), "2");
  EXPECT_EQ(header(res, "RateLimit-Policy"), "40;w=2");

  RateLimiter slow(config(0.1, 1));  // one token per 10 s
  slow.take("y", RouteClass::admin, t0);
  http::Response slow_res;
  add_rate_limit_headers(slow.take("y", RouteClass::admin, t0 + milliseconds(1500)), slow_res);
  EXPECT_EQ(header(slow_res, "Retry-After"), "9");  // 8.5 s, rounded up
  EXPECT_EQ(header(slow_res, "RateLimit-Policy"), "1;w=10");
}

TEST(RateLimitHeaders, UnlimitedClassAddsNothing) {
  RateLimitConfig cfg = config(1, 1);
  cfg.read = {0, 0};
  RateLimiter limiter(cfg);
  http::Response res;
  add_rate_limit_headers(limiter.take("x", RouteClass::read), res);
  EXPECT_TRUE(res.headers.empty());
}

TEST(RateLimitHeaders, ClassNames) {
  EXPECT_EQ(route_class_name(RouteClass::read), "read");
  EXPECT_EQ(route_class_name(RouteClass::write), "write");
  EXPECT_EQ(route_class_name(RouteClass::admin), "admin");
  EXPECT_EQ(route_class_name(RouteClass::unauthenticated), "unauthenticated");
}

}  // namespace
}  // namespace o2gw
