#pragma once
// Token counts of the longer strings a thread counted recently. Chat clients resend the same system prompt
// and the whole conversation so far with every turn, so most of a request's text was counted before, and
// the cache skips the tokenizer for it. The count is an estimate either way (the limit settles on the
// backend's usage), but a cached count is always the count of the very same bytes:
//
//   - Up to kMaxKeptBytes, the cache keeps the text itself and compares it whole (memcmp: a fraction of an
//     instruction per byte, where hashing the text took two). The set is picked by a keyed hash of the
//     length and the first and last 16 bytes, so nobody outside can aim strings at one set. The texts kept
//     take at most kByteBudget bytes: to keep a new one when they are at the budget, a hand going round the
//     sets empties entries (the less recently used of each set first) until it fits.
//   - Longer strings are remembered by a keyed 128-bit hash of all their bytes (util/keyed_hash.h: a false
//     hit needs both halves to collide under a secret key), not kept.
//   - Shorter strings (roles, names: counted on every request at a few hundred instructions each, for the
//     tokenizer's setup) are kept in a small direct-mapped table of their own, compared whole.
//
// Two entries per set, the most recently used first. One cache per thread (for_thread()): no lock.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "util/keyed_hash.h"

namespace spillway::tokenizer {

class CountCache {
 public:
  static constexpr std::size_t kMinBytes = 48;             // shorter: counting costs less than a lookup
  static constexpr std::size_t kMaxKeptBytes = 16 * 1024;  // longer: remembered by a hash of all bytes
  static constexpr std::size_t kSets = 512;                // of two kept texts
  static constexpr std::size_t kByteBudget = 1 << 20;      // capacity of the kept texts, at most
  static constexpr int kSlots = 2;                         // counts differ per encoding: one slot each
  static constexpr std::size_t kShortEntries = 64;         // per slot, for strings under kMinBytes

  CountCache();
  static CountCache& for_thread();

  // The token count of `s` in `slot` (0 <= slot < kSlots): remembered, or count_tokens(s), then remembered.
  template <class Count>
  int64_t count(int slot, std::string_view s, Count&& count_tokens) {
    if (s.size() < kMinBytes) {
      Short& e = short_[slot][short_index(s)];
      if (e.len == s.size() && std::memcmp(e.bytes, s.data(), s.size()) == 0) return e.count;
      const int64_t n = count_tokens(s);
      e.len = static_cast<uint8_t>(s.size());
      std::memcpy(e.bytes, s.data(), s.size());
      e.count = n;
      return n;
    }
    const uint64_t owner = owners_[slot];
    if (s.size() > kMaxKeptBytes) {
      const util::Hash128 h = util::keyed_hash128(s);
      if (const int64_t* n = hashed_.find(owner, h)) return *n;
      const int64_t n = count_tokens(s);
      hashed_.put(owner, h, n);
      return n;
    }
    Kept* set = set_of(s);
    if (set[0].matches(owner, s)) return set[0].count;
    if (set[1].matches(owner, s)) {
      std::swap(set[0], set[1]);
      return set[0].count;
    }
    const int64_t n = count_tokens(s);
    keep(set, owner, s, n);
    return n;
  }

  // The capacity of the texts kept now (<= kByteBudget).
  std::size_t kept_bytes() const { return kept_bytes_; }

 private:
  struct Kept {
    uint64_t owner = 0;  // 0: empty
    int64_t count = 0;
    std::string text;
    bool matches(uint64_t o, std::string_view s) const {
      return owner == o && text.size() == s.size() && std::memcmp(text.data(), s.data(), s.size()) == 0;
    }
  };
  struct Short {
    uint8_t len = 0xFF;  // matches no string (all are shorter)
    char bytes[kMinBytes - 1];
    int64_t count = 0;
  };
  // The entry of a short string: its length and its first and last eight bytes, mixed (not keyed: a
  // string that lands on another's entry only evicts it, the comparison is exact).
  static std::size_t short_index(std::string_view s) {
    uint64_t first = 0, last = 0;
    std::memcpy(&first, s.data(), s.size() < 8 ? s.size() : 8);
    if (s.size() > 8) std::memcpy(&last, s.data() + s.size() - 8, 8);
    const uint64_t h = (first * 0x9E3779B97F4A7C15ULL) ^ (last * 0xC2B2AE3D27D4EB4FULL) ^ s.size();
    return static_cast<std::size_t>((h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ULL >> 58);  // 6 bits
  }
  Kept* set_of(std::string_view s);  // REQUIRES: s.size() >= kMinBytes
  void keep(Kept* set, uint64_t owner, std::string_view s, int64_t count);
  void make_room(std::size_t bytes);

  uint64_t owners_[kSlots];
  std::unique_ptr<Kept[]> kept_;  // kSets * 2
  std::size_t kept_bytes_ = 0;
  std::size_t hand_ = 0;  // the set make_room() empties next
  util::HashedCache<int64_t, 512> hashed_;
  Short short_[kSlots][kShortEntries];
};

}  // namespace spillway::tokenizer
