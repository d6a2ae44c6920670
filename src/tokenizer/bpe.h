#pragma once
// Byte-pair merging of one piece, with tiktoken's semantics: start from single bytes and repeatedly merge
// the adjacent pair whose concatenation has the lowest rank (the leftmost one on a tie) until no adjacent
// pair is a token.
//
// Short pieces use tiktoken's own array scan (quadratic, fastest for a few dozen bytes); long pieces use a
// linked list and a segment tree of (rank, position) minima, O(n log n), so that a long run of letters
// without spaces (one piece) cannot make the work quadratic.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tokenizer/rank_table.h"

namespace spillway::tokenizer {

// Pieces up to this many bytes use the array scan.
inline constexpr std::size_t kBpeScanLimit = 32;

// Appends the token ids of [p, p + n) to *out. REQUIRES: n >= 1.
void byte_pair_encode(const RankTable& ranks, const unsigned char* p, std::size_t n,
                      std::vector<uint32_t>* out);

}  // namespace spillway::tokenizer
