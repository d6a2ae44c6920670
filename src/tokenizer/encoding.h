#pragma once
// More of the tokenizer than tokenizer.h: decoding, the rank tables, model-to-encoding rules.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace spillway::tokenizer {

class RankTable;

// The rank table of `e`, parsed from the embedded data on first use (thread-safe). Throws
// std::runtime_error only if the embedded data is corrupt.
const RankTable& rank_table(Encoding e);

// Appends the token ids of `text` to *out. Same ids as encode().
void encode_into(Encoding e, std::string_view text, std::vector<uint32_t>* out);

// The bytes of the tokens, concatenated (ids out of range are skipped).
std::string decode(Encoding e, std::span<const uint32_t> ids);

// A model-name rule: models whose name starts with `prefix` (ASCII case-insensitive, after any
// "provider/" part) use `encoding`.
struct ModelEncodingRule {
  std::string prefix;
  Encoding encoding;
};

// Like encoding_for_model, but `rules` are tried first, in order (e.g. from configuration).
Encoding encoding_for_model(std::string_view model, std::span<const ModelEncodingRule> rules);

}  // namespace spillway::tokenizer
