#pragma once
// Pre-tokenisation: splits text into the pieces that BPE then encodes separately, exactly as tiktoken's
// regular expressions do (leftmost-first alternation with backtracking), but as hand-written scanners over
// code points, linear in the input.
//
// cl100k_base:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|
//   \s+(?!\S)|\s+
// o200k_base:
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//   \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// \s is the White_Space property and (?i) folds s to S and U+017F (the regex crate's Unicode semantics).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace spillway::tokenizer {

// Length in bytes of the piece that starts at p (at least one code point).
// REQUIRES: p < end and [p, end) is valid UTF-8.
std::size_t next_piece_cl100k(const unsigned char* p, const unsigned char* end);
std::size_t next_piece_o200k(const unsigned char* p, const unsigned char* end);

namespace detail {
// The scanners without their ASCII fast paths, for tests that hold the two to the same pieces.
std::size_t next_piece_cl100k_general(const unsigned char* p, const unsigned char* end);
std::size_t next_piece_o200k_general(const unsigned char* p, const unsigned char* end);
// "" when the fast paths' table of ASCII bytes agrees with the Unicode table, else the first byte that
// does not.
std::string ascii_kinds_mismatch();
}  // namespace detail

// All pieces of `text`, in order (for tests and tools). REQUIRES: valid UTF-8.
std::vector<std::string_view> pretokenize(Encoding e, std::string_view text);

}  // namespace spillway::tokenizer
