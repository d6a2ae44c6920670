#include "tokenizer/count_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace spillway::tokenizer {
namespace {

// A counter that records how often it was asked: the cache must answer repeats without it.
struct Counter {
  int calls = 0;
  int64_t operator()(std::string_view s) {
    ++calls;
    return static_cast<int64_t>(s.size()) * 10 + s.back();
  }
};

std::string text(std::size_t n, char fill, char middle = 'm') {
  std::string s(n, fill);
  s[n / 2] = middle;
  return s;
}

TEST(CountCache, RepeatsAreAnsweredWithoutCountingAgain) {
  CountCache cache;
  Counter counter;
  for (const std::size_t n : {std::size_t{48}, std::size_t{300}, CountCache::kMaxKeptBytes,
                              CountCache::kMaxKeptBytes + 1, std::size_t{100'000}}) {
    const std::string s = text(n, 'a');
    const int before = counter.calls;
    const int64_t first = cache.count(0, s, std::ref(counter));
    EXPECT_EQ(cache.count(0, s, std::ref(counter)), first) << n;
    EXPECT_EQ(cache.count(0, std::string(s), std::ref(counter)), first) << n;  // equal bytes elsewhere
    EXPECT_EQ(counter.calls, before + 1) << n;
    EXPECT_EQ(first, Counter{}(s));
  }
}

// Short strings are remembered too, compared whole: a repeat is not counted again, and across many
// distinct ones (sharing entries, evicting each other) every answer is the string's own count.
TEST(CountCache, ShortStringsAreRememberedExactly) {
  CountCache cache;
  Counter counter;
  const std::string role = "assistant";
  const int64_t first = cache.count(0, role, std::ref(counter));
  EXPECT_EQ(cache.count(0, std::string(role), std::ref(counter)), first);
  EXPECT_EQ(counter.calls, 1);
  EXPECT_EQ(cache.count(1, role, [](std::string_view) { return int64_t{42}; }), 42);  // the other slot
  EXPECT_EQ(cache.count(0, "", [](std::string_view) { return int64_t{0}; }), 0);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 1000; ++i) {
      std::string s = std::to_string(i * 7919);
      s.resize(static_cast<std::size_t>(1 + i % static_cast<int>(CountCache::kMinBytes - 1)), 'x');
      ASSERT_EQ(cache.count(0, s, Counter{}), Counter{}(s)) << s;
    }
  }
}

// Strings with the same length and the same first and last 16 bytes land in one set; the whole text is
// compared, so each keeps its own count.
TEST(CountCache, TextsThatShareTheirEndsAreToldApart) {
  CountCache cache;
  Counter counter;
  const std::string a = text(200, 'q', 'A');
  const std::string b = text(200, 'q', 'B');
  const std::string c = text(200, 'q', 'C');
  const int64_t na = cache.count(0, a, [&](std::string_view) {
    ++counter.calls;
    return int64_t{1};
  });
  const int64_t nb = cache.count(0, b, [&](std::string_view) {
    ++counter.calls;
    return int64_t{2};
  });
  EXPECT_EQ(na, 1);
  EXPECT_EQ(nb, 2);
  EXPECT_EQ(cache.count(0, a, std::ref(counter)), 1);
  EXPECT_EQ(cache.count(0, b, std::ref(counter)), 2);
  EXPECT_EQ(counter.calls, 2);
  // A third one evicts the least recently used of the two (a, since b was used last).
  EXPECT_EQ(cache.count(0, c,
                        [&](std::string_view) {
                          ++counter.calls;
                          return int64_t{3};
                        }),
            3);
  EXPECT_EQ(cache.count(0, b, std::ref(counter)), 2);
  EXPECT_EQ(counter.calls, 3);
  EXPECT_EQ(cache.count(0, a,
                        [&](std::string_view) {
                          ++counter.calls;
                          return int64_t{1};
                        }),
            1);
  EXPECT_EQ(counter.calls, 4);
}

TEST(CountCache, EachSlotCountsOnItsOwn) {
  CountCache cache;
  const std::string s = text(100, 'z');
  EXPECT_EQ(cache.count(0, s, [](std::string_view) { return int64_t{7}; }), 7);
  EXPECT_EQ(cache.count(1, s, [](std::string_view) { return int64_t{9}; }), 9);
  EXPECT_EQ(cache.count(0, s, [](std::string_view) { return int64_t{-1}; }), 7);
  EXPECT_EQ(cache.count(1, s, [](std::string_view) { return int64_t{-1}; }), 9);
  const std::string big = text(CountCache::kMaxKeptBytes + 10, 'z');
  EXPECT_EQ(cache.count(0, big, [](std::string_view) { return int64_t{7}; }), 7);
  EXPECT_EQ(cache.count(1, big, [](std::string_view) { return int64_t{9}; }), 9);
  EXPECT_EQ(cache.count(0, big, [](std::string_view) { return int64_t{-1}; }), 7);
}

// Many distinct texts of the largest kept size: the kept bytes never pass the budget, the newest texts
// are kept (older ones make room for them), and whatever is answered from the cache is right.
TEST(CountCache, KeptTextsStayWithinTheBudgetAndTheNewestAreKept) {
  CountCache cache;
  const std::size_t n = CountCache::kMaxKeptBytes;
  const int strings = static_cast<int>(3 * CountCache::kByteBudget / n);
  const auto make = [n](int i) {
    std::string s = text(n, 'k');
    s.replace(0, 8, std::to_string(10'000'000 + i));  // at the start: the strings spread over the sets
    return s;
  };
  for (int i = 0; i < strings; ++i) {
    cache.count(0, make(i), [i](std::string_view) { return int64_t{i}; });
    ASSERT_LE(cache.kept_bytes(), CountCache::kByteBudget);
  }
  EXPECT_GT(cache.kept_bytes(), CountCache::kByteBudget / 2);
  int recounted = 0;
  for (int i = strings - 1; i >= 0; --i) {
    const int64_t got = cache.count(0, make(i), [&recounted](std::string_view) {
      ++recounted;
      return int64_t{-1};
    });
    if (got != -1) EXPECT_EQ(got, i);
    if (i == strings - 1) EXPECT_EQ(got, i) << "the newest text was not kept";
  }
  EXPECT_GT(recounted, 0);
  EXPECT_LT(recounted, strings);
}

}  // namespace
}  // namespace spillway::tokenizer
