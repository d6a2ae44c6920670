#pragma once
// The ranks of one BPE encoding: token byte string <-> rank (= token id), in a flat open-addressing hash
// table keyed by byte strings. Immutable after construction, so any number of threads may read it.
//
// The whole table is one blob of plain arrays (serialize()), which view() reads in place: the build
// parses OpenAI's `.tiktoken` files once (gen/rank_gen.cpp) and embeds the blobs, so a process uses its
// tables without parsing them, and their pages are the binary's own, read in as they are touched.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spillway::tokenizer {

class RankTable {
 public:
  static constexpr uint32_t kNoRank = UINT32_MAX;

  // Parses a `.tiktoken` file: one `base64(token bytes) rank` per line. Ranks must be 0..N-1 (N < 2^18),
  // each once, and every single byte must be a token. Throws std::runtime_error otherwise.
  explicit RankTable(std::string_view tiktoken_file);
  // The table `blob` holds, as serialize() wrote it, read in place: `blob` must outlive the table and be
  // 8-byte aligned. Throws std::runtime_error when it is not such a blob: checks its layout and every index
  // a lookup follows (offsets within the tokens' bytes, ranks below size(), one slot per token).
  static RankTable view(std::span<const unsigned char> blob);
  // The table as one blob for view().
  std::span<const unsigned char> serialize() const { return blob_; }

  RankTable(RankTable&&) noexcept = default;
  RankTable& operator=(RankTable&&) noexcept = default;

  // A key to look up, with its hash (0 for two bytes, which are found by direct indexing): the hash also
  // serves the callers' own caches in front of this table.
  struct Key {
    const unsigned char* p;
    std::size_t n;
    uint64_t h;
  };
  Key key(const unsigned char* p, std::size_t n) const { return Key{p, n, n != 2 ? hash(p, n) : 0}; }

  // Rank of the key's byte string, or kNoRank.
  uint32_t find(const Key& k) const {
    if (k.n == 2) return pair_ranks_[(std::size_t{k.p[0]} << 8) | k.p[1]];
    if ((filter_[filter_word(k.h)] & filter_bits(k.h)) != filter_bits(k.h)) return kNoRank;
    const uint32_t tag = static_cast<uint32_t>(k.h >> (64 - kTagBits));
    for (std::size_t i = k.h & mask_;; i = (i + 1) & mask_) {
      const uint32_t slot = slots_[i];
      if (slot == kEmptySlot) return kNoRank;
      if ((slot >> kRankBits) == tag) {
        const uint32_t rank = slot & kRankMask;
        if (token_size(rank) == k.n && equal_bytes(arena_.data() + offsets_[rank], k.p, k.n)) return rank;
      }
    }
  }
  uint32_t find(const unsigned char* p, std::size_t n) const { return find(key(p, n)); }
  uint32_t find(std::string_view s) const {
    return find(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  }
  uint32_t byte_rank(unsigned char b) const { return byte_ranks_[b]; }

  // REQUIRES: rank < size().
  std::string_view token(uint32_t rank) const { return arena_.substr(offsets_[rank], token_size(rank)); }
  std::size_t size() const { return offsets_.size() - 1; }
  std::size_t max_token_size() const { return max_token_size_; }

  // Whether [a, a + n) and [b, b + n) hold the same bytes; short ones without a call to memcmp
  // (overlapping word loads). Also used by the tokenizer's caches in front of this table.
  static bool equal_bytes(const void* a, const void* b, std::size_t n) {
    if (n >= 8 && n <= 16) return load64(a) == load64(b) && load64(sub(a, n - 8)) == load64(sub(b, n - 8));
    if (n >= 4 && n < 8) return load32(a) == load32(b) && load32(sub(a, n - 4)) == load32(sub(b, n - 4));
    if (n < 4) {
      for (std::size_t i = 0; i < n; ++i) {
        if (static_cast<const unsigned char*>(a)[i] != static_cast<const unsigned char*>(b)[i]) return false;
      }
      return true;
    }
    return std::memcmp(a, b, n) == 0;
  }

 private:
  // A slot holds a rank (low kRankBits) and kTagBits more bits of the key's hash; the table is sized for a
  // load factor under 1/2 and is 4 bytes a slot, so that o200k_base's fits in 2 MiB.
  static constexpr uint32_t kRankBits = 18;
  static constexpr uint32_t kTagBits = 32 - kRankBits;
  static constexpr uint32_t kRankMask = (uint32_t{1} << kRankBits) - 1;
  static constexpr uint32_t kEmptySlot = UINT32_MAX;  // rank kRankMask is never used

  static uint64_t load64(const void* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static uint64_t load32(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  static const void* sub(const void* p, std::size_t offset) { return static_cast<const char*>(p) + offset; }
  // wyhash's multiply-and-fold.
  static uint64_t mix(uint64_t a, uint64_t b) {
    const __uint128_t r = static_cast<__uint128_t>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  }
  static constexpr uint64_t kSeed0 = 0xa0761d6478bd642full;
  static constexpr uint64_t kSeed1 = 0xe7037ed1a0b428dbull;
  static constexpr uint64_t kSeed2 = 0x8ebc6af09c88c6e3ull;

  static uint64_t hash(const unsigned char* p, std::size_t n) {
    uint64_t a, b;
    if (n <= 16) {
      if (n >= 8) {
        a = load64(p);
        b = load64(p + n - 8);
      } else if (n >= 4) {
        a = load32(p);
        b = load32(p + n - 4);
      } else if (n > 0) {
        a = (uint64_t{p[0]} << 16) | (uint64_t{p[n >> 1]} << 8) | p[n - 1];
        b = 0;
      } else {
        a = b = 0;
      }
    } else {
      uint64_t seed = kSeed0;
      std::size_t i = 0;
      for (; i + 16 < n; i += 16) seed = mix(load64(p + i) ^ kSeed1, load64(p + i + 8) ^ seed);
      a = load64(p + n - 16) ^ seed;
      b = load64(p + n - 8);
    }
    return mix(kSeed1 ^ n, mix(a ^ kSeed1, b ^ kSeed2 ^ kSeed0));
  }
  std::size_t token_size(uint32_t rank) const { return offsets_[rank + 1] - offsets_[rank]; }

  // A Bloom filter of all tokens (two bits of one 64-bit word each), small enough to stay in cache: most
  // failed lookups end here without touching slots_.
  static constexpr std::size_t kFilterWords = 1 << 14;  // 128 KiB
  static std::size_t filter_word(uint64_t h) { return (h >> 20) & (kFilterWords - 1); }
  static uint64_t filter_bits(uint64_t h) {
    return (uint64_t{1} << ((h >> 34) & 63)) | (uint64_t{1} << ((h >> 40) & 63));
  }

  RankTable() = default;
  // Points the members below into blob_. Throws std::runtime_error when it is not a table's blob.
  void attach();

  std::vector<uint64_t> owned_;          // the blob of a parsed table (8-byte aligned); empty for a view
  std::span<const unsigned char> blob_;  // owned_, or the viewed bytes
  std::string_view arena_;               // all tokens' bytes, by rank
  std::span<const uint32_t> offsets_;    // size() + 1: token r is arena_[offsets_[r], offsets_[r + 1])
  std::span<const uint32_t> slots_;
  std::span<const uint64_t> filter_;      // kFilterWords
  std::span<const uint32_t> byte_ranks_;  // 256
  std::span<const uint32_t> pair_ranks_;  // every two-byte string, by (first << 8 | second)
  std::size_t mask_ = 0;
  std::size_t max_token_size_ = 0;
};

}  // namespace spillway::tokenizer
