#include "tokenizer/bpe.h"

#include <algorithm>
#include <cstring>

namespace spillway::tokenizer {
namespace {

constexpr uint32_t kNone = RankTable::kNoRank;

// Ranks of concatenated token pairs, by (left rank, right rank): a pair of ranks names one byte string, so
// this is exact, and text in one script keeps meeting the same pairs. Direct-mapped, one per thread and
// rank table (two tables at most are in use), 48 KiB each.
class PairCache {
 public:
  static PairCache& for_table(const RankTable& ranks) {
    thread_local PairCache caches[2];
    if (caches[0].owner_ == &ranks) return caches[0];
    if (caches[1].owner_ != &ranks) caches[1].reset(&ranks);
    return caches[1];
  }

  // Rank of token `left` followed by token `right`, whose bytes are [p, p + n).
  uint32_t find(const RankTable& ranks, uint32_t left, uint32_t right, const unsigned char* p,
                std::size_t n) {
    const uint64_t key = (uint64_t{left} << 32) | right;
    Entry& e = entries_[((key * 0x9E3779B97F4A7C15ull) >> 52) % kEntries];
    if (e.left == left && e.right == right) return e.rank;
    const uint32_t rank = ranks.find(p, n);
    e = Entry{left, right, rank};
    return rank;
  }

 private:
  static constexpr std::size_t kEntries = 4096;
  struct Entry {
    uint32_t left = kNone, right = kNone, rank = kNone;
  };
  void reset(const RankTable* owner) {
    owner_ = owner;
    for (Entry& e : entries_) e = Entry{};
  }
  const RankTable* owner_ = nullptr;
  Entry entries_[kEntries];
};

void encode_scan(const RankTable& ranks, const unsigned char* p, std::size_t n, std::vector<uint32_t>* out) {
  // start[i]: first byte of part i (start[m] == n); pair[i]: rank of part i + part i+1; own[i]: part i's
  // rank.
  uint32_t start[kBpeScanLimit + 1];
  uint32_t pair[kBpeScanLimit];
  uint32_t own[kBpeScanLimit];
  std::size_t m = n;
  for (std::size_t i = 0; i < n; ++i) {
    start[i] = static_cast<uint32_t>(i);
    own[i] = ranks.byte_rank(p[i]);
    pair[i] = i + 1 < n ? ranks.find(p + i, 2) : kNone;
  }
  start[n] = static_cast<uint32_t>(n);
  const std::size_t max_token = ranks.max_token_size();
  PairCache& cache = PairCache::for_table(ranks);
  while (m > 1) {
    uint32_t best = kNone;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 1 < m; ++i) {
      if (pair[i] < best) {
        best = pair[i];
        at = i;
      }
    }
    if (best == kNone) break;
    own[at] = best;
    // Remove part at+1.
    std::memmove(start + at + 1, start + at + 2, (m - at - 1) * sizeof(start[0]));
    std::memmove(own + at + 1, own + at + 2, (m - at - 2) * sizeof(own[0]));
    std::memmove(pair + at + 1, pair + at + 2, (m - at - 2) * sizeof(pair[0]));
    --m;
    // The pairs on both sides of the merged part changed.
    const std::size_t after_len = at + 2 <= m ? start[at + 2] - start[at] : 0;
    const std::size_t before_len = at > 0 ? start[at + 1] - start[at - 1] : 0;
    pair[at] = after_len != 0 && after_len <= max_token
                   ? cache.find(ranks, own[at], own[at + 1], p + start[at], after_len)
                   : kNone;
    if (at > 0) {
      pair[at - 1] = before_len <= max_token
                         ? cache.find(ranks, own[at - 1], own[at], p + start[at - 1], before_len)
                         : kNone;
    }
  }
  out->insert(out->end(), own, own + m);
}

void encode_tree(const RankTable& ranks, const unsigned char* p, std::size_t n, std::vector<uint32_t>* out) {
  // Parts form a doubly linked list over byte positions; a part is named by its first byte. key[pos] is
  // (rank of part pos + its successor) << 32 | pos, or kNoKey; the minimum key is the next merge (lowest
  // rank, then leftmost). Minima are kept per block of kBlock keys and in a segment tree over the blocks,
  // so a merge rescans one or two blocks and walks up the tree: O(log n) with good locality.
  constexpr uint64_t kNoKey = UINT64_MAX;
  constexpr std::size_t kBlock = 16;
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  std::size_t leaves = 1;
  while (leaves < blocks) leaves <<= 1;
  std::vector<uint64_t> key(blocks * kBlock, kNoKey);
  std::vector<uint64_t> tree(2 * leaves, kNoKey);
  std::vector<uint32_t> next(n), prev(n), own(n);
  const auto make_key = [](uint32_t rank, std::size_t pos) {
    return rank == kNone ? kNoKey : (uint64_t{rank} << 32) | pos;
  };
  for (std::size_t i = 0; i < n; ++i) {
    next[i] = static_cast<uint32_t>(i + 1);
    prev[i] = static_cast<uint32_t>(i - 1);  // wraps for i == 0; never read there
    own[i] = ranks.byte_rank(p[i]);
    if (i + 1 < n) key[i] = make_key(ranks.find(p + i, 2), i);
  }
  const auto block_min = [&](std::size_t b) {
    const uint64_t* k = key.data() + b * kBlock;
    uint64_t m = k[0];
    for (std::size_t i = 1; i < kBlock; ++i) m = k[i] < m ? k[i] : m;
    return m;
  };
  for (std::size_t b = 0; b < blocks; ++b) tree[leaves + b] = block_min(b);
  for (std::size_t i = leaves - 1; i >= 1; --i) tree[i] = std::min(tree[2 * i], tree[2 * i + 1]);
  const auto update = [&](std::size_t b) {
    std::size_t node = leaves + b;
    tree[node] = block_min(b);
    for (node >>= 1; node >= 1; node >>= 1) {
      const uint64_t m = std::min(tree[2 * node], tree[2 * node + 1]);
      if (tree[node] == m) break;
      tree[node] = m;
    }
  };
  const std::size_t max_token = ranks.max_token_size();
  PairCache& cache = PairCache::for_table(ranks);
  const auto pair_key = [&](std::size_t pos) {
    const std::size_t second = next[pos];
    if (second >= n) return kNoKey;
    const std::size_t len = next[second] - pos;
    return len <= max_token ? make_key(cache.find(ranks, own[pos], own[second], p + pos, len), pos) : kNoKey;
  };
  while (tree[1] != kNoKey) {
    const uint64_t top = tree[1];
    const std::size_t pos = static_cast<uint32_t>(top);
    const std::size_t gone = next[pos];
    own[pos] = static_cast<uint32_t>(top >> 32);
    next[pos] = next[gone];
    if (next[pos] < n) prev[next[pos]] = static_cast<uint32_t>(pos);
    key[gone] = kNoKey;
    key[pos] = pair_key(pos);
    std::size_t b0 = pos / kBlock, b1 = gone / kBlock, b2 = b0;
    if (pos > 0) {
      const std::size_t before = prev[pos];
      key[before] = pair_key(before);
      b2 = before / kBlock;
    }
    update(b0);
    if (b1 != b0) update(b1);
    if (b2 != b0) update(b2);
  }
  for (std::size_t i = 0; i < n; i = next[i]) out->push_back(own[i]);
}

}  // namespace

void byte_pair_encode(const RankTable& ranks, const unsigned char* p, std::size_t n,
                      std::vector<uint32_t>* out) {
  if (n == 1) {
    out->push_back(ranks.byte_rank(p[0]));
  } else if (n <= kBpeScanLimit) {
    encode_scan(ranks, p, n, out);
  } else {
    encode_tree(ranks, p, n, out);
  }
}

}  // namespace spillway::tokenizer
