#pragma once
// One usage-log record: a compact, self-contained description of one LLM call, built by the usage-log
// policy on the request's worker and handed to the writer and exporter threads. No DOM, no pointers into
// the request. docs/usage-log.md describes every field.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spillway::telemetry {

struct UsageRecord {
  int64_t time_ms = 0;  // request start, Unix time in milliseconds (UTC)
  std::string request_id;
  std::string api;
  std::string operation;  // "chat.completions", "embeddings", ...
  std::string pool;       // the name the client used
  std::string deployment;
  std::string model;
  std::string backend;
  int attempts = 0;
  std::string subscription;
  std::string product;
  std::vector<std::pair<std::string, std::string>> tags;  // the subscription's tags, by name
  std::string user_hash;  // keyed hash of the user id; "" when unknown. Never the raw id.
  std::vector<std::string> tools;
  int status = 0;
  std::string error;  // the gateway's error code, "" when none
  bool stream = false;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t reasoning_tokens = 0;
  bool tokens_estimated = false;  // counted locally, not reported by the backend
  std::string usage_source;       // "backend" | "estimate" | "none"
  double ttft_ms = -1;            // request start -> backend response head; < 0 when none came
  double duration_ms = 0;         // request start -> completion
  std::string cache;              // cache result ("hit", "miss"); "" when no cache took part
  bool client_disconnected = false;
  std::optional<std::string> prompt;      // only with log_prompts; capped
  std::optional<std::string> completion;  // only with log_prompts; capped
};

// A record as the usage log's writer receives it: the numbers, then each text with its length, in one
// string. A record crosses from the request's worker to the writer's thread as this one block instead of a
// struct of some 700 bytes plus a heap block per text longer than a std::string holds in place: every byte
// that crosses is a cache line the other core must fetch, and every block allocated on one thread and freed
// on another is a cache miss on both (bench/RESULTS.md measures what that cost). Tags and tools are packed
// as the JSON text the table stores (tags_json, tools_json). An in-process layout, not a file format.
std::string pack_usage(const UsageRecord& r);

// A record's fields as views of texts someone else owns, to pack them without copying them into a
// UsageRecord first: the usage-log policy packs straight from the request's context (a UsageRecord is
// built only for the OTLP exporter, which keeps it). Tags come from `tags` or `tag_map` (a subscription's),
// whichever is set; neither: none.
struct UsageRecordRef {
  int64_t time_ms = 0;
  std::string_view request_id, api, operation, pool, deployment, model, backend;
  int attempts = 0;
  std::string_view subscription, product;
  const std::vector<std::pair<std::string, std::string>>* tags = nullptr;
  const std::map<std::string, std::string>* tag_map = nullptr;
  std::string_view user_hash;
  std::span<const std::string> tools;
  int status = 0;
  std::string_view error;
  bool stream = false;
  int64_t prompt_tokens = 0, completion_tokens = 0, total_tokens = 0, cached_tokens = 0, reasoning_tokens = 0;
  bool tokens_estimated = false;
  std::string_view usage_source;
  double ttft_ms = -1;
  double duration_ms = 0;
  std::string_view cache;
  bool client_disconnected = false;
  std::optional<std::string_view> prompt, completion;
};
// Views of r's fields (valid while r is).
UsageRecordRef ref_of(const UsageRecord& r);
// A UsageRecord holding copies of the texts.
UsageRecord to_record(const UsageRecordRef& r);
// The same bytes as pack_usage(to_record(r)).
std::string pack_usage(const UsageRecordRef& r);

// A packed record read back in place: the texts are views into the packed string.
struct PackedUsageView {
  int64_t time_ms = 0;
  std::string_view request_id, api, operation, pool, deployment, model, backend;
  int attempts = 0;
  std::string_view subscription, product;
  std::string_view tags;  // JSON object
  std::string_view user_hash;
  std::string_view tools;  // JSON array
  int status = 0;
  std::string_view error;
  bool stream = false;
  int64_t prompt_tokens = 0, completion_tokens = 0, total_tokens = 0, cached_tokens = 0, reasoning_tokens = 0;
  bool tokens_estimated = false;
  std::string_view usage_source;
  double ttft_ms = -1;
  double duration_ms = 0;
  std::string_view cache;
  bool client_disconnected = false;
  std::optional<std::string_view> prompt, completion;
  // api, operation, pool, deployment, model, backend, subscription, product, tags, error, usage_source and
  // cache, each with its length, as one string: equal exactly when all twelve are (the usage log's
  // dimension table is keyed by it).
  std::string_view dims_key;
};
// REQUIRES: `packed` is a string pack_usage() returned, unchanged.
PackedUsageView unpack_usage(std::string_view packed);

// {"k":"v",...} in the given order; "{}" for none.
std::string tags_json(const std::vector<std::pair<std::string, std::string>>& tags);
// ["a","b"] in the given order; "[]" for none.
std::string tools_json(const std::vector<std::string>& tools);
// The longest prefix of `text` of at most `max_bytes` bytes that does not cut a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);
// Replaces every occurrence of each non-empty string of `secrets` in `text` by "[redacted]".
void redact(std::string& text, const std::vector<std::string>& secrets);

}  // namespace spillway::telemetry
