#include "util/keyed_hash.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace spillway::util {
namespace {

// Every length around the 8-byte words, and strings that differ only in one byte, a trailing zero byte or
// their length, hash apart; the same string always hashes the same.
TEST(KeyedHash, DistinctStringsHashApartAndEqualOnesAlike) {
  std::set<std::pair<uint64_t, uint64_t>> seen;
  std::size_t made = 0;
  for (std::size_t len = 0; len <= 40; ++len) {
    std::string s(len, 'x');
    const Hash128 base = keyed_hash128(s);
    EXPECT_EQ(keyed_hash128(std::string(len, 'x')), base);
    seen.insert({base.h1, base.h2});
    ++made;
    for (std::size_t i = 0; i < len; ++i) {
      std::string t = s;
      t[i] = 'y';
      const Hash128 h = keyed_hash128(t);
      seen.insert({h.h1, h.h2});
      ++made;
    }
    const Hash128 nul = keyed_hash128(s + std::string(1, '\0'));
    seen.insert({nul.h1, nul.h2});
    ++made;
  }
  // The "+ '\0'" strings of length n and the plain ones of length n + 1 differ in content too; all distinct.
  EXPECT_EQ(seen.size(), made);
}

TEST(HashedCache, FindsWhatWasPutForTheSameOwnerOnly) {
  HashedCache<int, 8> cache;
  const uint64_t a = next_cache_owner();
  const uint64_t b = next_cache_owner();
  EXPECT_NE(a, b);
  EXPECT_NE(a, 0u);
  const Hash128 h = keyed_hash128("alice");
  EXPECT_EQ(cache.find(a, h), nullptr);
  cache.put(a, h, 42);
  ASSERT_NE(cache.find(a, h), nullptr);
  EXPECT_EQ(*cache.find(a, h), 42);
  EXPECT_EQ(cache.find(b, h), nullptr);
  EXPECT_EQ(cache.find(a, keyed_hash128("bob")), nullptr);
}

// Hashes that differ only in h2 land in the same set of two.
Hash128 same_set(const Hash128& h, uint64_t n) {
  Hash128 other = h;
  other.h2 ^= n;
  return other;
}

TEST(HashedCache, KeepsTwoEntriesPerSetAndDropsTheLeastRecentlyUsed) {
  HashedCache<int, 8> cache;
  const uint64_t owner = next_cache_owner();
  const Hash128 a = keyed_hash128("alice");
  const Hash128 b = same_set(a, 1);
  const Hash128 c = same_set(a, 2);
  cache.put(owner, a, 1);
  cache.put(owner, b, 2);
  ASSERT_NE(cache.find(owner, a), nullptr);  // both fit: a is now the most recently used
  EXPECT_EQ(*cache.find(owner, a), 1);
  ASSERT_NE(cache.find(owner, b), nullptr);  // and now b
  EXPECT_EQ(*cache.find(owner, b), 2);
  EXPECT_EQ(*cache.find(owner, a), 1);  // a again: b is the least recently used
  cache.put(owner, c, 3);               // a full set: b goes
  EXPECT_EQ(cache.find(owner, b), nullptr);
  ASSERT_NE(cache.find(owner, a), nullptr);
  EXPECT_EQ(*cache.find(owner, a), 1);
  ASSERT_NE(cache.find(owner, c), nullptr);
  EXPECT_EQ(*cache.find(owner, c), 3);
}

TEST(HashedCache, PutOfAKeyItHoldsUpdatesItWithoutDroppingTheOther) {
  HashedCache<int, 8> cache;
  const uint64_t owner = next_cache_owner();
  const Hash128 a = keyed_hash128("alice");
  const Hash128 b = same_set(a, 1);
  cache.put(owner, a, 1);
  cache.put(owner, b, 2);
  cache.put(owner, b, 20);  // b is first: updated in place
  EXPECT_EQ(*cache.find(owner, b), 20);
  ASSERT_NE(cache.find(owner, a), nullptr);
  EXPECT_EQ(*cache.find(owner, a), 1);
}

}  // namespace
}  // namespace spillway::util
