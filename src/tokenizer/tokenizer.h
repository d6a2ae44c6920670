#pragma once
// Native BPE tokenizer for OpenAI's cl100k_base and o200k_base encodings (token ids identical to tiktoken),
// and OpenAI-style prompt token estimation for chat requests.
// Thread-safe: encodings are immutable once loaded.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace spillway::tokenizer {

enum class Encoding { kCl100kBase, kO200kBase };

std::string_view encoding_name(Encoding e);
std::optional<Encoding> encoding_by_name(std::string_view name);
// gpt-4o / gpt-4.1 / gpt-5 / o-series -> o200k_base; gpt-4 / gpt-3.5 / text-embedding-* -> cl100k_base;
// unknown -> o200k_base.
Encoding encoding_for_model(std::string_view model);

// Token ids of `text` (special-token text is treated as plain text).
std::vector<uint32_t> encode(Encoding e, std::string_view text);
std::size_t count_tokens(Encoding e, std::string_view text);

// Prompt tokens of a request body as OpenAI counts them (chat: per-message overhead, names, tools and
// function definitions; completions: the prompt; embeddings: the input). Never throws; a body it cannot
// read counts as its byte length / 4.
int64_t estimate_prompt_tokens(Encoding e, std::string_view operation, std::string_view request_body);

}  // namespace spillway::tokenizer
