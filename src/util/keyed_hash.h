#pragma once
// A fast keyed 128-bit hash of strings, and a small direct-mapped cache indexed by it.
//
// The hash key is random per process, so nobody outside can aim collisions or pick which cache slot a
// string lands in. It is not a cryptographic MAC: use it to index memoisation tables whose inputs come from
// clients (user ids, prompt text), never to authenticate anything. A false match between two strings needs
// both 64-bit halves to collide under a secret key.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace spillway::util {

struct Hash128 {
  uint64_t h1 = 0;
  uint64_t h2 = 0;
  bool operator==(const Hash128&) const = default;
};

// Two independent 64-bit hashes of `s` (length included) under the process's random key. Thread-safe.
Hash128 keyed_hash128(std::string_view s);

// A distinct non-zero number on every call (thread-safe): the `owner` of cache entries made by one object,
// so that entries of an object that was replaced (a config reload) never match for its successor.
uint64_t next_cache_owner();

// Remembers values by (owner, Hash128) in N entries: N/2 sets of two, the set picked by the hash. A set keeps
// its two most recently used entries (a hit or a put makes its entry the set's first; a put into a full set
// drops the other). With one slot per hash, a table a quarter full loses about one key in five to another
// key that shares its slot, and the two keep evicting each other (callgrind on traffic cycling through 1024
// prompts: 22% of the token-count lookups missed); a set of two holds such a pair, and a string used on
// every request (a system prompt) is never pushed out by one-off strings. Not thread-safe: meant to be
// thread_local, so it takes no lock. Values must be cheap to copy.
template <class V, std::size_t N>
class HashedCache {
  static_assert(N >= 2 && (N & (N - 1)) == 0, "N must be a power of two, at least 2");
  static constexpr std::size_t kSets = N / 2;

 public:
  // The value stored for (owner, h), or null. The pointer is valid until the next find() or put().
  const V* find(uint64_t owner, const Hash128& h) {
    Entry* set = set_of(h);
    if (set[0].matches(owner, h)) return &set[0].value;
    if (!set[1].matches(owner, h)) return nullptr;
    std::swap(set[0], set[1]);
    return &set[0].value;
  }
  void put(uint64_t owner, const Hash128& h, const V& value) {
    Entry* set = set_of(h);
    if (!set[0].matches(owner, h)) set[1] = set[0];
    set[0] = {owner, h, value};
  }

 private:
  struct Entry {
    uint64_t owner = 0;  // 0: empty (next_cache_owner() never returns 0)
    Hash128 hash;
    V value{};
    bool matches(uint64_t o, const Hash128& h) const { return owner == o && hash == h; }
  };
  Entry* set_of(const Hash128& h) { return &entries_[(h.h1 & (kSets - 1)) * 2]; }
  std::array<Entry, N> entries_{};
};

}  // namespace spillway::util
