#include "routing/pool_router.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "util/clock.h"

namespace spillway::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct M {
  const char* backend;
  int priority;
  int weight;
};

config::Pool make_pool(std::vector<M> members) {
  config::Pool pool;
  pool.name = "gpt-4o";
  for (const M& m : members) {
    config::PoolMember member;
    member.backend = m.backend;
    member.priority = m.priority;
    member.weight = m.weight;
    pool.members.push_back(member);
  }
  return pool;
}

uint64_t bit(std::size_t i) { return uint64_t{1} << i; }

Outcome status(int s, std::optional<milliseconds> retry_after = std::nullopt) {
  return Outcome{Outcome::kResponse, s, retry_after};
}
Outcome of_kind(Outcome::Kind kind) { return Outcome{kind, 0, std::nullopt}; }

const Outcome kOk = status(200);
const Outcome kServerError = status(500);
const Outcome kConnectError = of_kind(Outcome::kConnectError);
const Outcome kTimeout = of_kind(Outcome::kTimeout);
const Outcome kAbandoned = of_kind(Outcome::kAbandoned);

// Picks among all members (nothing tried yet) and reports `outcome` for the pick.
Pick pick_and_record(PoolRouter& router, const Outcome& outcome, uint64_t tried = 0) {
  auto p = router.pick(tried);
  EXPECT_TRUE(p.has_value());
  if (!p) return Pick{};
  router.record(*p, outcome);
  return *p;
}

// Reports `n` outcomes on `member` as ordinary (non-probe) attempts.
void record_n(PoolRouter& router, std::size_t member, const Outcome& outcome, int n) {
  for (int i = 0; i < n; ++i) router.record(Pick{member, false}, outcome);
}

MemberState state_of(const PoolRouter& router, std::size_t member) {
  return router.health().at(member).state;
}

class PoolRouterTest : public ::testing::Test {
 protected:
  util::ManualClock clock_{std::chrono::system_clock::time_point{} + seconds(1'700'000'000)};
};

TEST_F(PoolRouterTest, LowestPriorityNumberFirst) {
  PoolRouter router(make_pool({{"payg", 2, 5}, {"ptu", 1, 1}, {"openai", 3, 9}}), clock_);
  for (int i = 0; i < 20; ++i) {
    auto p = router.pick(0);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->member, 1u);
    EXPECT_FALSE(p->probe);
    router.record(*p, kOk);
  }
}

TEST_F(PoolRouterTest, SpillsOverWhenHigherPriorityMembersWereTried) {
  PoolRouter router(make_pool({{"ptu-a", 1, 1}, {"ptu-b", 1, 1}, {"payg", 2, 1}, {"openai", 3, 1}}), clock_);
  auto p = router.pick(bit(0));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->member, 1u);
  p = router.pick(bit(0) | bit(1));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->member, 2u);
  p = router.pick(bit(0) | bit(1) | bit(2));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->member, 3u);
  EXPECT_FALSE(router.pick(bit(0) | bit(1) | bit(2) | bit(3)));
}

TEST_F(PoolRouterTest, SpillsOverWhenHigherPriorityMembersAreOpen) {
  PoolRouter router(make_pool({{"ptu", 1, 1}, {"payg", 2, 1}}), clock_);
  router.record(Pick{0, false}, status(429, seconds(10)));
  EXPECT_EQ(state_of(router, 0), MemberState::kOpen);
  for (int i = 0; i < 5; ++i) {
    auto p = router.pick(0);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->member, 1u);
    router.record(*p, kOk);
  }
}

TEST_F(PoolRouterTest, SmoothWeightedRoundRobinIsExact) {
  PoolRouter router(make_pool({{"a", 1, 3}, {"b", 1, 1}, {"spare", 2, 100}}), clock_);
  std::vector<int> count(3);
  for (int cycle = 0; cycle < 1000; ++cycle) {
    std::vector<int> in_cycle(3);
    for (int i = 0; i < 4; ++i) {
      auto p = router.pick(0);
      ASSERT_TRUE(p);
      ++count[p->member];
      ++in_cycle[p->member];
      router.record(*p, kOk);
    }
    // Smooth: every cycle of 4 picks holds exactly 3 a and 1 b, not runs of a then runs of b.
    ASSERT_EQ(in_cycle[0], 3) << "cycle " << cycle;
    ASSERT_EQ(in_cycle[1], 1) << "cycle " << cycle;
  }
  EXPECT_EQ(count[0], 3000);
  EXPECT_EQ(count[1], 1000);
  EXPECT_EQ(count[2], 0);
}

TEST_F(PoolRouterTest, WeightsHoldForThreeMembers) {
  PoolRouter router(make_pool({{"a", 1, 5}, {"b", 1, 3}, {"c", 1, 2}}), clock_);
  std::vector<int> count(3);
  for (int i = 0; i < 1000; ++i) ++count[pick_and_record(router, kOk).member];
  EXPECT_EQ(count, (std::vector<int>{500, 300, 200}));
}

TEST_F(PoolRouterTest, WeightsApplyAmongTheRemainingMembersOfAPriority) {
  PoolRouter router(make_pool({{"ptu", 1, 1}, {"a", 2, 3}, {"b", 2, 1}}), clock_);
  std::vector<int> count(3);
  for (int i = 0; i < 400; ++i) ++count[pick_and_record(router, kOk, bit(0)).member];
  EXPECT_EQ(count, (std::vector<int>{0, 300, 100}));
}

TEST_F(PoolRouterTest, BreakerOpensAfterFailuresWithinTheWindow) {
  PoolRouter router(make_pool({{"a", 1, 1}, {"b", 2, 1}}), clock_);  // failures 3 within 10s
  router.record(Pick{0, false}, kServerError);
  clock_.advance(seconds(4));
  router.record(Pick{0, false}, kServerError);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
  EXPECT_EQ(router.pick(0)->member, 0u);
  clock_.advance(seconds(6));  // the first failure is exactly `within` old
  router.record(Pick{0, false}, kServerError);
  EXPECT_EQ(state_of(router, 0), MemberState::kOpen);
  auto p = router.pick(0);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->member, 1u);
  EXPECT_FALSE(router.pick(bit(1)));
}

TEST_F(PoolRouterTest, BreakerStaysClosedWhenFailuresAreSpreadBeyondTheWindow) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  router.record(Pick{0, false}, kServerError);
  clock_.advance(seconds(6));
  router.record(Pick{0, false}, kServerError);
  clock_.advance(milliseconds(4001));  // 10.001 s after the first
  router.record(Pick{0, false}, kServerError);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
  // The last three (6 s, 10.001 s, 11 s) are within 10 s of each other.
  clock_.advance(milliseconds(999));
  router.record(Pick{0, false}, kServerError);
  EXPECT_EQ(state_of(router, 0), MemberState::kOpen);
}

TEST_F(PoolRouterTest, SuccessesAndUnlistedStatusesDoNotCount) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  for (int i = 0; i < 10; ++i) {
    router.record(Pick{0, false}, kOk);
    router.record(Pick{0, false}, status(400));
    router.record(Pick{0, false}, status(404));
  }
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
  EXPECT_EQ(router.health()[0].successes, 30u);
}

TEST_F(PoolRouterTest, OpenForThenASingleProbe) {
  PoolRouter router(make_pool({{"a", 1, 1}, {"b", 1, 1}}), clock_);  // open_for 30s
  record_n(router, 0, kServerError, 3);
  ASSERT_EQ(state_of(router, 0), MemberState::kOpen);
  EXPECT_EQ(router.health()[0].open_until, clock_.system_now() + seconds(30));
  EXPECT_FALSE(router.health()[0].opened_by_rate_limit);

  clock_.advance(milliseconds(29'999));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pick_and_record(router, kOk).member, 1u);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(state_of(router, 0), MemberState::kHalfOpen);
  EXPECT_FALSE(router.health()[0].open_until);
  auto probe = router.pick(0);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->member, 0u);
  EXPECT_TRUE(probe->probe);
  // While the probe is out, the member gets nothing else.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pick_and_record(router, kOk).member, 1u);
  EXPECT_FALSE(router.pick(bit(1)));
  router.record(*probe, kOk);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
  auto p = router.pick(bit(1));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->member, 0u);
  EXPECT_FALSE(p->probe);
}

TEST_F(PoolRouterTest, SuccessfulProbeClearsTheFailureWindow) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  record_n(router, 0, kServerError, 3);
  clock_.advance(seconds(30));
  auto probe = router.pick(0);
  ASSERT_TRUE(probe && probe->probe);
  router.record(*probe, kOk);
  record_n(router, 0, kServerError, 2);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
  record_n(router, 0, kServerError, 1);
  EXPECT_EQ(state_of(router, 0), MemberState::kOpen);
}

TEST_F(PoolRouterTest, FailedProbeReopensForOpenFor) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  record_n(router, 0, kServerError, 3);
  clock_.advance(seconds(30));
  auto probe = router.pick(0);
  ASSERT_TRUE(probe && probe->probe);
  clock_.advance(seconds(2));
  router.record(*probe, kConnectError);
  EXPECT_EQ(state_of(router, 0), MemberState::kOpen);
  EXPECT_EQ(router.health()[0].open_until, clock_.system_now() + seconds(30));
  EXPECT_FALSE(router.pick(0));
  clock_.advance(seconds(30));
  auto again = router.pick(0);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->probe);
}

TEST_F(PoolRouterTest, FailedProbeWithRetryAfterReopensUntilThen) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  record_n(router, 0, kServerError, 3);
  clock_.advance(seconds(30));
  auto probe = router.pick(0);
  ASSERT_TRUE(probe && probe->probe);
  router.record(*probe, status(429, milliseconds(2500)));
  EXPECT_EQ(router.soonest_available(), milliseconds(2500));
  EXPECT_TRUE(router.health()[0].opened_by_rate_limit);
  clock_.advance(milliseconds(2499));
  EXPECT_FALSE(router.pick(0));
  clock_.advance(milliseconds(1));
  auto again = router.pick(0);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->probe);
}

TEST_F(PoolRouterTest, AbandonedProbeFreesTheSlot) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  record_n(router, 0, kServerError, 3);
  clock_.advance(seconds(30));
  auto probe = router.pick(0);
  ASSERT_TRUE(probe && probe->probe);
  EXPECT_FALSE(router.pick(0));
  router.record(*probe, kAbandoned);
  EXPECT_EQ(state_of(router, 0), MemberState::kHalfOpen);
  auto second = router.pick(0);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->probe);
  router.record(*second, status(0));  // status 0 counts as abandoned too
  auto third = router.pick(0);
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->probe);
  EXPECT_EQ(router.health()[0].successes + router.health()[0].failures, 3u);  // abandoned ones not counted
}

TEST_F(PoolRouterTest, RateLimitWithRetryAfterOpensAtOnceExactlyUntilThen) {
  PoolRouter router(make_pool({{"ptu", 1, 1}, {"payg", 2, 1}}), clock_);
  auto p = router.pick(0);
  ASSERT_EQ(p->member, 0u);
  router.record(*p, status(429, seconds(10)));  // one 429, although failures is 3
  MemberHealth h = router.health()[0];
  EXPECT_EQ(h.state, MemberState::kOpen);
  EXPECT_EQ(h.open_until, clock_.system_now() + seconds(10));
  EXPECT_TRUE(h.opened_by_rate_limit);
  EXPECT_EQ(h.rate_limited, 1u);
  clock_.advance(milliseconds(9'999));
  EXPECT_EQ(pick_and_record(router, kOk).member, 1u);
  EXPECT_EQ(router.soonest_available(), milliseconds(1));
  clock_.advance(milliseconds(1));
  auto probe = router.pick(0);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->member, 0u);
  EXPECT_TRUE(probe->probe);
}

TEST_F(PoolRouterTest, TrippingOutcomeRetryAfterSetsTheOpenTime) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  record_n(router, 0, status(503, seconds(5)), 2);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);  // only a 429 opens at once
  router.record(Pick{0, false}, status(503, seconds(5)));
  EXPECT_EQ(router.health()[0].open_until, clock_.system_now() + seconds(5));
  EXPECT_FALSE(router.health()[0].opened_by_rate_limit);
}

TEST_F(PoolRouterTest, RetryAfterIgnoredWhenHonorIsOff) {
  config::Pool pool = make_pool({{"a", 1, 1}});
  pool.circuit_breaker.honor_retry_after = false;
  PoolRouter router(pool, clock_);
  record_n(router, 0, status(429, seconds(10)), 2);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
  router.record(Pick{0, false}, status(429, seconds(10)));
  EXPECT_EQ(state_of(router, 0), MemberState::kOpen);
  EXPECT_EQ(router.health()[0].open_until, clock_.system_now() + seconds(30));
  EXPECT_EQ(router.soonest_available(), seconds(30));
}

TEST_F(PoolRouterTest, RetryAfterIgnoredWhen429IsNotABreakerStatus) {
  config::Pool pool = make_pool({{"a", 1, 1}});
  pool.circuit_breaker.on = config::StatusSet{{{500, 599}}};
  PoolRouter router(pool, clock_);
  record_n(router, 0, status(429, seconds(10)), 5);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
}

TEST_F(PoolRouterTest, ZeroRetryAfterIsNoHint) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  router.record(Pick{0, false}, status(429, milliseconds(0)));
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
  record_n(router, 0, status(429, milliseconds(0)), 2);
  EXPECT_EQ(router.soonest_available(), seconds(30));
}

TEST_F(PoolRouterTest, LaterRateLimitExtendsAnOpenMember) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  router.record(Pick{0, false}, status(429, seconds(10)));
  // Requests picked before it opened report afterwards.
  router.record(Pick{0, false}, status(429, seconds(4)));
  EXPECT_EQ(router.soonest_available(), seconds(10));
  router.record(Pick{0, false}, status(429, seconds(20)));
  EXPECT_EQ(router.soonest_available(), seconds(20));
  router.record(Pick{0, false}, kOk);  // a late success does not close it
  EXPECT_EQ(state_of(router, 0), MemberState::kOpen);
}

TEST_F(PoolRouterTest, OnlyTheProbeDecidesAHalfOpenMember) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  router.record(Pick{0, false}, status(429, seconds(1)));
  clock_.advance(seconds(1));
  auto probe = router.pick(0);
  ASSERT_TRUE(probe && probe->probe);
  record_n(router, 0, kOk, 3);
  record_n(router, 0, kServerError, 3);
  EXPECT_EQ(state_of(router, 0), MemberState::kHalfOpen);
  EXPECT_FALSE(router.pick(0));
  router.record(*probe, kOk);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
}

TEST_F(PoolRouterTest, ConnectErrorsAndTimeoutsCountByDefault) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  record_n(router, 0, kConnectError, 2);
  router.record(Pick{0, false}, kTimeout);
  EXPECT_EQ(state_of(router, 0), MemberState::kOpen);
  EXPECT_EQ(router.health()[0].failures, 3u);
}

TEST_F(PoolRouterTest, ConnectErrorsIgnoredWhenConfigured) {
  config::Pool pool = make_pool({{"a", 1, 1}});
  pool.circuit_breaker.on_connect_error = false;
  PoolRouter router(pool, clock_);
  record_n(router, 0, kConnectError, 5);
  record_n(router, 0, kTimeout, 5);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
  EXPECT_EQ(router.health()[0].failures, 10u);

  // Nor does a probe's connect error close a half-open member: the next request probes again.
  record_n(router, 0, kServerError, 3);
  clock_.advance(seconds(30));
  auto probe = router.pick(0);
  ASSERT_TRUE(probe && probe->probe);
  router.record(*probe, kConnectError);
  EXPECT_EQ(state_of(router, 0), MemberState::kHalfOpen);
  auto again = router.pick(0);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->probe);
}

TEST_F(PoolRouterTest, DisabledBreakerNeverOpens) {
  config::Pool pool = make_pool({{"a", 1, 1}});
  pool.circuit_breaker.enabled = false;
  PoolRouter router(pool, clock_);
  record_n(router, 0, status(429, seconds(10)), 10);
  record_n(router, 0, kServerError, 10);
  EXPECT_EQ(state_of(router, 0), MemberState::kClosed);
  auto p = router.pick(0);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->probe);
  EXPECT_FALSE(router.soonest_available());
}

TEST_F(PoolRouterTest, SoonestAvailable) {
  PoolRouter router(make_pool({{"a", 1, 1}, {"b", 1, 1}, {"c", 2, 1}}), clock_);
  EXPECT_FALSE(router.soonest_available());
  router.record(Pick{0, false}, status(429, seconds(12)));
  router.record(Pick{1, false}, status(429, milliseconds(3400)));
  EXPECT_EQ(router.soonest_available(), milliseconds(3400));
  clock_.advance(seconds(3));
  EXPECT_EQ(router.soonest_available(), milliseconds(400));
  clock_.advance(seconds(1));
  EXPECT_EQ(router.soonest_available(), milliseconds(0));  // due, not yet probed
  auto probe = router.pick(0);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->member, 1u);
  EXPECT_TRUE(probe->probe);
  EXPECT_EQ(router.soonest_available(), milliseconds(8000));  // only `a` is still open
}

TEST_F(PoolRouterTest, ShouldRetryFollowsRetryOn) {
  config::Pool pool = make_pool({{"a", 1, 1}});
  pool.retry.on = config::StatusSet{{{429, 429}, {502, 503}}};
  pool.retry.max_attempts = 4;
  PoolRouter router(pool, clock_);
  EXPECT_EQ(router.max_attempts(), 4);
  EXPECT_TRUE(router.should_retry(status(429)));
  EXPECT_TRUE(router.should_retry(status(502)));
  EXPECT_TRUE(router.should_retry(status(503)));
  EXPECT_FALSE(router.should_retry(status(500)));
  EXPECT_FALSE(router.should_retry(status(504)));
  EXPECT_FALSE(router.should_retry(status(200)));
  EXPECT_FALSE(router.should_retry(status(400)));
  EXPECT_FALSE(router.should_retry(status(0)));
  EXPECT_TRUE(router.should_retry(kConnectError));
  EXPECT_TRUE(router.should_retry(kTimeout));
  EXPECT_FALSE(router.should_retry(kAbandoned));
}

TEST_F(PoolRouterTest, DefaultRetryOn) {
  PoolRouter router(make_pool({{"a", 1, 1}}), clock_);
  EXPECT_EQ(router.max_attempts(), 3);
  EXPECT_TRUE(router.should_retry(status(429)));
  EXPECT_TRUE(router.should_retry(status(500)));
  EXPECT_TRUE(router.should_retry(status(599)));
  EXPECT_FALSE(router.should_retry(status(408)));
}

TEST_F(PoolRouterTest, HealthCountsTheLastMinute) {
  PoolRouter router(make_pool({{"ptu", 1, 1}, {"payg", 2, 3}}), clock_);
  record_n(router, 0, kOk, 4);
  record_n(router, 0, status(400), 1);
  router.record(Pick{0, false}, status(429));
  router.record(Pick{0, false}, status(502));
  clock_.advance(seconds(30));
  router.record(Pick{0, false}, kOk);
  std::vector<MemberHealth> h = router.health();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].backend, "ptu");
  EXPECT_EQ(h[0].priority, 1);
  EXPECT_EQ(h[1].backend, "payg");
  EXPECT_EQ(h[1].weight, 3);
  EXPECT_EQ(h[0].successes, 6u);
  EXPECT_EQ(h[0].rate_limited, 1u);
  EXPECT_EQ(h[0].failures, 1u);
  EXPECT_EQ(h[1].successes + h[1].failures + h[1].rate_limited, 0u);
  clock_.advance(seconds(36));  // the first batch is over a minute old
  h = router.health();
  EXPECT_EQ(h[0].successes, 1u);
  EXPECT_EQ(h[0].rate_limited, 0u);
  EXPECT_EQ(h[0].failures, 0u);
  clock_.advance(seconds(60));
  EXPECT_EQ(router.health()[0].successes, 0u);
}

TEST(MemberStateName, AllStates) {
  EXPECT_EQ(member_state_name(MemberState::kClosed), "closed");
  EXPECT_EQ(member_state_name(MemberState::kOpen), "open");
  EXPECT_EQ(member_state_name(MemberState::kHalfOpen), "half_open");
}

// Four threads pick and record at random; the counts must add up and no probe slot may leak.
TEST(PoolRouterThreads, ConcurrentPickAndRecordKeepInvariants) {
  util::ManualClock clock;
  config::Pool pool = make_pool({{"a", 1, 3}, {"b", 1, 1}, {"c", 2, 1}, {"d", 3, 2}});
  pool.circuit_breaker.open_for = milliseconds(2);
  pool.circuit_breaker.within = milliseconds(5);
  PoolRouter router(pool, clock);
  constexpr int kThreads = 4;
  constexpr int kRequests = 20000;
  std::atomic<uint64_t> recorded{0};
  std::atomic<uint64_t> bad_picks{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint32_t rng = 12345u + static_cast<uint32_t>(t);
      auto next = [&rng] {
        rng = rng * 1664525u + 1013904223u;
        return rng >> 8;
      };
      // Start together, so that the threads really overlap.
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int r = 0; r < kRequests; ++r) {
        uint64_t tried = 0;
        for (int attempt = 0; attempt < router.max_attempts(); ++attempt) {
          auto p = router.pick(tried);
          if (!p) break;
          if (p->member >= router.size() || (tried & bit(p->member))) bad_picks.fetch_add(1);
          tried |= bit(p->member);
          Outcome o;
          switch (next() % 10) {
            case 0:
              o = status(429, milliseconds(next() % 3));
              break;
            case 1:
              o = kServerError;
              break;
            case 2:
              o = kConnectError;
              break;
            case 3:
              o = kAbandoned;
              break;
            default:
              o = kOk;
          }
          router.record(*p, o);
          if (o.kind != Outcome::kAbandoned) recorded.fetch_add(1);
          if (!router.should_retry(o)) break;
        }
        clock.advance(std::chrono::microseconds(100));
        if (r % 64 == 0) (void)router.health();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad_picks.load(), 0u);

  uint64_t counted = 0;
  for (const MemberHealth& h : router.health()) counted += h.successes + h.failures + h.rate_limited;
  EXPECT_GT(recorded.load(), uint64_t{kThreads * kRequests / 2});  // the members were mostly available
  EXPECT_EQ(counted, recorded.load());  // all within the last minute of the manual clock

  // Every member can be reached again once its open time has passed: no probe slot leaked.
  clock.advance(seconds(1));
  for (std::size_t i = 0; i < router.size(); ++i) {
    auto p = router.pick(~bit(i));
    ASSERT_TRUE(p) << "member " << i;
    EXPECT_EQ(p->member, i);
    router.record(*p, kOk);
    EXPECT_EQ(state_of(router, i), MemberState::kClosed);
  }
}

}  // namespace
}  // namespace spillway::routing
