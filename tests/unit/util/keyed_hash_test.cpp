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
  // A new entry in the same slot replaces the old one.
  Hash128 same_slot = h;
  same_slot.h2 ^= 1;
  cache.put(a, same_slot, 7);
  EXPECT_EQ(cache.find(a, h), nullptr);
  EXPECT_EQ(*cache.find(a, same_slot), 7);
}

}  // namespace
}  // namespace spillway::util
