#pragma once
// Token usage as reported by a backend, and how to find it in OpenAI / Azure OpenAI payloads.

#include <cstdint>
#include <optional>
#include <string_view>

namespace spillway::api {

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  int64_t cached_tokens = 0;     // prompt_tokens_details.cached_tokens / input_tokens_details.cached_tokens
  int64_t reasoning_tokens = 0;  // completion_tokens_details.reasoning_tokens / output_tokens_details...
};

// Finds the usage in a JSON document: a non-streamed response body (chat, completions, embeddings,
// responses) or one SSE `data:` payload (a chat chunk with "usage", or a Responses API
// `response.completed` event whose usage sits in "response.usage"). Handles both naming schemes
// (prompt_tokens/completion_tokens and input_tokens/output_tokens). total_tokens is derived when absent.
// Returns nullopt when there is no usage object (or it is null) or the JSON is invalid. A root "usage"
// member is read from the document's end without parsing what precedes it, so a body that is malformed
// only before its usage still yields it (a backend did bill those tokens). Never throws.
std::optional<Usage> extract_usage(std::string_view json);

namespace detail {
// extract_usage(); with `plain_suffix` false, without its hand-written reader of the usual suffix (every
// suffix then goes through simdjson): the reference the reader is tested against.
std::optional<Usage> extract_usage(std::string_view json, bool plain_suffix);
// That reader alone, on what follows a root member's key: `suffix` starts at its "usage" and runs to the
// document's end. nullopt when it leaves the suffix to simdjson.
std::optional<Usage> read_plain_usage_suffix(std::string_view suffix);
}  // namespace detail

// True when `json` spells the key "usage" anywhere (extract_usage() finds nothing otherwise): the cheap
// first test for each event of a stream.
bool mentions_usage(std::string_view json);

// True for a chat/completions stream chunk that exists only to carry usage: "choices" is an empty array
// and "usage" is a non-null object (what the backend sends for stream_options.include_usage).
bool is_usage_only_chunk(std::string_view json);

}  // namespace spillway::api
