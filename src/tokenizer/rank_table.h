#pragma once
// The ranks of one BPE encoding: token byte string <-> rank (= token id), in a flat open-addressing hash
// table keyed by byte strings. Immutable after construction, so any number of threads may read it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spillway::tokenizer {

class RankTable {
 public:
  static constexpr uint32_t kNoRank = UINT32_MAX;

  // Parses a `.tiktoken` file: one `base64(token bytes) rank` per line. Ranks must be 0..N-1, each once, and
  // every single byte must be a token. Throws std::runtime_error otherwise.
  explicit RankTable(std::string_view tiktoken_file);

  // Rank of the byte string [p, p + n), or kNoRank.
  uint32_t find(const unsigned char* p, std::size_t n) const {
    const uint64_t h = hash(p, n);
    const uint32_t tag = make_tag(h, n);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot s = slots_[i];
      if (s.rank == kNoRank) return kNoRank;
      if (s.tag == tag && (n < kTagLenMax || token_size(s.rank) == n) &&
          std::char_traits<char>::compare(arena_.data() + offsets_[s.rank], reinterpret_cast<const char*>(p),
                                          n) == 0) {
        return s.rank;
      }
    }
  }
  uint32_t find(std::string_view s) const {
    return find(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  }
  uint32_t byte_rank(unsigned char b) const { return byte_ranks_[b]; }

  // REQUIRES: rank < size().
  std::string_view token(uint32_t rank) const {
    return std::string_view(arena_).substr(offsets_[rank], token_size(rank));
  }
  std::size_t size() const { return offsets_.size() - 1; }
  std::size_t max_token_size() const { return max_token_size_; }

 private:
  struct Slot {
    uint32_t rank;
    uint32_t tag;  // high hash bits, and the key length when below kTagLenMax
  };
  static constexpr std::size_t kTagLenMax = 255;

  static uint64_t hash(const unsigned char* p, std::size_t n);
  static uint32_t make_tag(uint64_t h, std::size_t n) {
    return (static_cast<uint32_t>(h >> 32) & ~uint32_t{0xFF}) |
           static_cast<uint32_t>(n < kTagLenMax ? n : kTagLenMax);
  }
  std::size_t token_size(uint32_t rank) const { return offsets_[rank + 1] - offsets_[rank]; }

  std::string arena_;              // all tokens' bytes, by rank
  std::vector<uint32_t> offsets_;  // size() + 1 entries: token r is arena_[offsets_[r], offsets_[r + 1])
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t max_token_size_ = 0;
  uint32_t byte_ranks_[256];
};

}  // namespace spillway::tokenizer
