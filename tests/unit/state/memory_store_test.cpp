#include "state/memory_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace spillway::state {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A fixed, arbitrary epoch second so slots do not start at 0.
const SystemTime kT0 = SystemTime(seconds(1'700'000'040));

SystemTime at(double s) { return kT0 + milliseconds(static_cast<int64_t>(s * 1000)); }

Charge window(std::string_view key, int64_t amount, int64_t limit) {
  return Charge{.type = CounterType::kWindow, .key = key, .amount = amount, .limit = limit, .expires = {}};
}

Charge quota(std::string_view key, int64_t amount, int64_t limit, SystemTime expires) {
  return Charge{
      .type = CounterType::kQuota, .key = key, .amount = amount, .limit = limit, .expires = expires};
}

ChargeResult reserve_one(MemoryStore& store, const Charge& charge, SystemTime now) {
  Reservation r = store.reserve(std::span(&charge, 1), now);
  EXPECT_EQ(r.granted, r.results[0].granted);
  return r.results[0];
}

int64_t adjust_one(MemoryStore& store, const Adjustment& a, SystemTime now) {
  int64_t remaining = -2;
  store.adjust(std::span(&a, 1), now, std::span(&remaining, 1));
  return remaining;
}

TEST(MemoryStoreWindow, GrantsUpToTheLimitAndReportsRemaining) {
  MemoryStore store;
  auto r = reserve_one(store, window("k", 600, 1000), at(0));
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.remaining, 400);
  r = reserve_one(store, window("k", 400, 1000), at(0.5));
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.remaining, 0);
  r = reserve_one(store, window("k", 1, 1000), at(0.9));
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(store.window_used("k", at(1)), 1000);
  EXPECT_EQ(store.window_used("other", at(1)), 0);
}

TEST(MemoryStoreWindow, SlidesOneSecondAtATime) {
  MemoryStore store;
  ASSERT_TRUE(reserve_one(store, window("k", 600, 1000), at(0.2)).granted);   // slot of second 0
  ASSERT_TRUE(reserve_one(store, window("k", 400, 1000), at(30.7)).granted);  // slot of second 30
  // An amount counts until the end of second floor(t) + 60: the 600 leave at t = 61 exactly.
  auto r = reserve_one(store, window("k", 1, 1000), at(30.5));
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.retry_after, seconds(31));  // 61 - 30.5, rounded up
  r = reserve_one(store, window("k", 1, 1000), at(60.999));
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.retry_after, seconds(1));
  EXPECT_EQ(store.window_used("k", at(60.999)), 1000);
  EXPECT_EQ(store.window_used("k", at(61)), 400);
  r = reserve_one(store, window("k", 600, 1000), at(61));
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.remaining, 0);
  // The 400 of second 30 leave at 91.
  EXPECT_EQ(store.window_used("k", at(90.9)), 1000);
  EXPECT_EQ(store.window_used("k", at(91)), 600);
  EXPECT_EQ(store.window_used("k", at(121.9)), 600);
  EXPECT_EQ(store.window_used("k", at(122)), 0);
}

TEST(MemoryStoreWindow, AnyTwoGrantsLessThanSixtySecondsApartAreCountedTogether) {
  // Grants at 0.999 and 60.0 (59.001 s apart) must not both fit a limit only one of them fits.
  MemoryStore store;
  ASSERT_TRUE(reserve_one(store, window("k", 700, 1000), at(0.999)).granted);
  EXPECT_FALSE(reserve_one(store, window("k", 700, 1000), at(60.0)).granted);
  EXPECT_FALSE(reserve_one(store, window("k", 700, 1000), at(60.998)).granted);
  EXPECT_TRUE(reserve_one(store, window("k", 700, 1000), at(61.0)).granted);
}

TEST(MemoryStoreWindow, RetryAfterCountsOnlyAsMuchAsMustLeave) {
  MemoryStore store;
  ASSERT_TRUE(reserve_one(store, window("k", 300, 1000), at(0)).granted);
  ASSERT_TRUE(reserve_one(store, window("k", 300, 1000), at(10)).granted);
  ASSERT_TRUE(reserve_one(store, window("k", 300, 1000), at(20)).granted);
  // 100 free; 350 needs the first 300 to leave (at 61), 650 the first two (at 71).
  EXPECT_EQ(reserve_one(store, window("k", 350, 1000), at(40)).retry_after, seconds(21));
  EXPECT_EQ(reserve_one(store, window("k", 650, 1000), at(40)).retry_after, seconds(31));
  EXPECT_EQ(reserve_one(store, window("k", 1000, 1000), at(40)).retry_after, seconds(41));
  // More than the limit never fits.
  EXPECT_EQ(reserve_one(store, window("k", 1001, 1000), at(40)).retry_after, seconds(61));
  EXPECT_EQ(reserve_one(store, window("new", 1001, 1000), at(40)).retry_after, seconds(61));
  EXPECT_FALSE(reserve_one(store, window("new", 1001, 1000), at(40)).granted);
}

TEST(MemoryStoreWindow, AdjustGivesBackOrChargesTheGrantsSlot) {
  MemoryStore store;
  ASSERT_TRUE(reserve_one(store, window("k", 500, 1000), at(5)).granted);
  // Settled lower at t = 20: the difference is free at once.
  EXPECT_EQ(adjust_one(store,
                       {.type = CounterType::kWindow,
                        .key = "k",
                        .delta = -300,
                        .limit = 1000,
                        .reserved_at = at(5),
                        .expires = {}},
                       at(20)),
            800);
  EXPECT_EQ(store.window_used("k", at(20)), 200);
  // Settled higher: charged to the grant's slot, so it leaves with it (at 66).
  EXPECT_EQ(adjust_one(store,
                       {.type = CounterType::kWindow,
                        .key = "k",
                        .delta = 100,
                        .limit = 1000,
                        .reserved_at = at(5),
                        .expires = {}},
                       at(21)),
            700);
  EXPECT_EQ(store.window_used("k", at(65.9)), 300);
  EXPECT_EQ(store.window_used("k", at(66)), 0);
}

TEST(MemoryStoreWindow, AdjustAfterTheSlotLeftTheWindow) {
  MemoryStore store;
  ASSERT_TRUE(reserve_one(store, window("k", 500, 1000), at(0)).granted);
  // A long stream settles 90 s later: nothing to give back; an excess is charged to the current second.
  EXPECT_EQ(adjust_one(store,
                       {.type = CounterType::kWindow,
                        .key = "k",
                        .delta = -200,
                        .limit = 1000,
                        .reserved_at = at(0),
                        .expires = {}},
                       at(90)),
            1000);
  EXPECT_EQ(adjust_one(store,
                       {.type = CounterType::kWindow,
                        .key = "k",
                        .delta = 250,
                        .limit = 1000,
                        .reserved_at = at(0),
                        .expires = {}},
                       at(90)),
            750);
  EXPECT_EQ(store.window_used("k", at(150.9)), 250);
  EXPECT_EQ(store.window_used("k", at(151)), 0);
  // A negative adjustment never takes a slot below zero.
  ASSERT_TRUE(reserve_one(store, window("z", 10, 100), at(200)).granted);
  adjust_one(store,
             {.type = CounterType::kWindow,
              .key = "z",
              .delta = -50,
              .limit = 100,
              .reserved_at = at(200),
              .expires = {}},
             at(200));
  EXPECT_EQ(store.window_used("z", at(200)), 0);
}

TEST(MemoryStoreWindow, ClockSteppingBackKeepsCounting) {
  MemoryStore store;
  ASSERT_TRUE(reserve_one(store, window("k", 600, 1000), at(100)).granted);
  EXPECT_FALSE(reserve_one(store, window("k", 600, 1000), at(40)).granted);
  EXPECT_TRUE(reserve_one(store, window("k", 400, 1000), at(40)).granted);
  EXPECT_EQ(store.window_used("k", at(100)), 1000);
}

TEST(MemoryStoreQuota, SumsUntilTheLimitAndNeverGoesBelowZero) {
  MemoryStore store;
  const SystemTime end = at(3600);
  auto r = reserve_one(store, quota("q", 700, 1000, end), at(0));
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.remaining, 300);
  r = reserve_one(store, quota("q", 301, 1000, end), at(1));
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.remaining, 300);
  // Quotas do not slide.
  EXPECT_FALSE(reserve_one(store, quota("q", 301, 1000, end), at(3000)).granted);
  EXPECT_EQ(adjust_one(store,
                       {.type = CounterType::kQuota,
                        .key = "q",
                        .delta = -200,
                        .limit = 1000,
                        .reserved_at = at(0),
                        .expires = end},
                       at(5)),
            500);
  EXPECT_EQ(adjust_one(store,
                       {.type = CounterType::kQuota,
                        .key = "q",
                        .delta = -5000,
                        .limit = 1000,
                        .reserved_at = at(0),
                        .expires = end},
                       at(5)),
            1000);
  EXPECT_EQ(store.quota_used("q", at(5)), 0);
}

TEST(MemoryStore, AReservationIsGrantedWholeOrNotAtAll) {
  MemoryStore store;
  const SystemTime end = at(3600);
  const Charge both[] = {quota("q", 400, 10'000, end), window("w", 400, 500)};
  Reservation r = store.reserve(both, at(0));
  ASSERT_TRUE(r.granted);
  EXPECT_EQ(r.results[0].remaining, 9600);
  EXPECT_EQ(r.results[1].remaining, 100);
  // The window refuses the second: the quota gets its 400 back.
  r = store.reserve(both, at(1));
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.refused, 1u);
  EXPECT_TRUE(r.results[0].granted);
  EXPECT_FALSE(r.results[1].granted);
  EXPECT_EQ(r.results[1].retry_after, seconds(60));
  EXPECT_EQ(store.quota_used("q", at(1)), 400);
  EXPECT_EQ(store.window_used("w", at(1)), 400);
  // The quota refuses first: the window is not touched.
  const Charge big[] = {quota("q", 9'700, 10'000, end), window("w", 1, 500)};
  r = store.reserve(big, at(2));
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.refused, 0u);
  EXPECT_EQ(store.window_used("w", at(2)), 400);
}

TEST(MemoryStore, ExpiredKeysAreDropped) {
  MemoryStore store;
  ASSERT_TRUE(reserve_one(store, window("a", 1, 10), at(0)).granted);
  ASSERT_TRUE(reserve_one(store, window("b", 1, 10), at(30)).granted);
  ASSERT_TRUE(reserve_one(store, quota("q", 1, 10, at(50)), at(0)).granted);
  EXPECT_EQ(store.size(), 3u);
  store.sweep(at(49));
  EXPECT_EQ(store.size(), 3u);
  store.sweep(at(61));  // "a" left the window, the quota's period ended
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.window_used("b", at(61)), 1);
  store.sweep(at(91));
  EXPECT_EQ(store.size(), 0u);
}

TEST(MemoryStore, ShardsSweepThemselvesAsTimeGoesOn) {
  MemoryStore store;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(reserve_one(store, window("key-" + std::to_string(i), 1, 10), at(0)).granted);
  }
  EXPECT_EQ(store.size(), 1000u);
  // Later traffic on other keys lets every shard it touches drop what expired.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(reserve_one(store, window("later-" + std::to_string(i), 1, 10), at(200)).granted);
  }
  EXPECT_EQ(store.size(), 1000u);
}

TEST(MemoryStore, ConcurrentReservationsNeverOverGrant) {
  MemoryStore store;
  constexpr int kThreads = 4;
  constexpr int64_t kLimit = 100'000;
  const SystemTime end = at(3600);
  std::atomic<int64_t> granted_window{0};
  std::atomic<int64_t> granted_quota{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        const int64_t amount = 1 + (i * 7 + t * 13) % 97;
        // One shared window alone, and the same window behind a shared quota (whole-or-nothing).
        if (reserve_one(store, window("w", amount, kLimit), at(i % 50)).granted) granted_window += amount;
        const Charge both[] = {quota("q", amount, kLimit / 2, end), window("w2", amount, kLimit)};
        if (store.reserve(both, at(i % 50)).granted) granted_quota += amount;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(granted_window.load(), kLimit);
  EXPECT_EQ(store.window_used("w", at(50)), granted_window.load());
  EXPECT_GT(granted_window.load(), kLimit - 97);  // refused only when nearly full
  EXPECT_LE(granted_quota.load(), kLimit / 2);
  EXPECT_EQ(store.quota_used("q", at(50)), granted_quota.load());
  EXPECT_EQ(store.window_used("w2", at(50)), granted_quota.load());
}

}  // namespace
}  // namespace spillway::state
