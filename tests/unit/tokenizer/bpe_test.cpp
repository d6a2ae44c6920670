#include "tokenizer/bpe.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/encoding.h"
#include "tokenizer/rank_table.h"

namespace spillway::tokenizer {
namespace {

// tiktoken's byte_pair_merge, written plainly: the reference for both merge strategies.
std::vector<uint32_t> naive_bpe(const RankTable& ranks, const std::string& piece) {
  std::vector<std::string> parts;
  for (const char c : piece) parts.emplace_back(1, c);
  for (;;) {
    uint32_t best = RankTable::kNoRank;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      const uint32_t r = ranks.find(parts[i] + parts[i + 1]);
      if (r < best) {
        best = r;
        at = i;
      }
    }
    if (best == RankTable::kNoRank) break;
    parts[at] += parts[at + 1];
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  std::vector<uint32_t> ids;
  for (const auto& p : parts) ids.push_back(ranks.find(p));
  return ids;
}

TEST(BytePairEncode, BothStrategiesMatchTheNaiveMerge) {
  uint32_t x = 7;
  const auto next = [&] {
    x = x * 1664525u + 1013904223u;
    return x >> 8;
  };
  const std::string alphabets[] = {"abcdefghijklmnopqrstuvwxyz", "aab", "etaoinshrdlu", "xyz019 ",
                                   "\xe4\xb8\xad"};
  for (const Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    const RankTable& ranks = rank_table(e);
    for (int round = 0; round < 300; ++round) {
      const std::string& alphabet = alphabets[round % 5];
      // Lengths on both sides of kBpeScanLimit.
      const std::size_t len = 2 + next() % (kBpeScanLimit * 3);
      std::string piece;
      for (std::size_t i = 0; i < len; ++i) piece.push_back(alphabet[next() % alphabet.size()]);
      std::vector<uint32_t> got;
      byte_pair_encode(ranks, reinterpret_cast<const unsigned char*>(piece.data()), piece.size(), &got);
      ASSERT_EQ(got, naive_bpe(ranks, piece)) << encoding_name(e) << " piece of " << len << ": " << piece;
    }
  }
}

TEST(BytePairEncode, RepeatedPairsMergeLeftmostFirst) {
  for (const Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    const RankTable& ranks = rank_table(e);
    for (const std::size_t n : {2u, 3u, 5u, 47u, 48u, 49u, 97u, 200u}) {
      const std::string piece(n, 'a');
      std::vector<uint32_t> got;
      byte_pair_encode(ranks, reinterpret_cast<const unsigned char*>(piece.data()), n, &got);
      EXPECT_EQ(got, naive_bpe(ranks, piece)) << n;
    }
  }
}

}  // namespace
}  // namespace spillway::tokenizer
