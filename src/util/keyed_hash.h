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

// Remembers values by (owner, Hash128) in N slots; a new entry replaces whatever held its slot. Not
// thread-safe: meant to be thread_local, so it takes no lock. Values must be cheap to copy.
template <class V, std::size_t N>
class HashedCache {
  static_assert(N > 0 && (N & (N - 1)) == 0, "N must be a power of two");

 public:
  // The value stored for (owner, h), or null. The pointer is valid until the next put().
  const V* find(uint64_t owner, const Hash128& h) const {
    const Entry& e = entries_[h.h1 & (N - 1)];
    return e.owner == owner && e.hash == h ? &e.value : nullptr;
  }
  void put(uint64_t owner, const Hash128& h, const V& value) { entries_[h.h1 & (N - 1)] = {owner, h, value}; }

 private:
  struct Entry {
    uint64_t owner = 0;  // 0: empty (next_cache_owner() never returns 0)
    Hash128 hash;
    V value{};
  };
  std::array<Entry, N> entries_{};
};

}  // namespace spillway::util
