#include "api/usage.h"

#include "api/json_doc.h"

namespace spillway::api {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// A token count: a non-negative integer (integral doubles accepted, anything else counts as 0).
int64_t count_of(const element& e) {
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return i < 0 ? 0 : i;
  uint64_t u;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return INT64_MAX;  // > INT64_MAX: saturate
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS && d >= 0 && d < 9.2e18 &&
      d == static_cast<double>(static_cast<int64_t>(d))) {
    return static_cast<int64_t>(d);
  }
  return 0;
}

// The first of `keys` present (and not null) in `o`.
std::optional<int64_t> first_count(const object& o, std::initializer_list<std::string_view> keys) {
  for (const std::string_view key : keys) {
    element e;
    if (o.at_key(key).get(e) == simdjson::SUCCESS && !e.is_null()) return count_of(e);
  }
  return std::nullopt;
}

int64_t nested_count(const object& o, std::initializer_list<std::string_view> parents, std::string_view key) {
  for (const std::string_view parent : parents) {
    object details;
    if (o.at_key(parent).get_object().get(details) != simdjson::SUCCESS) continue;
    element e;
    if (details.at_key(key).get(e) == simdjson::SUCCESS && !e.is_null()) return count_of(e);
  }
  return 0;
}

Usage usage_from(const object& u) {
  Usage usage;
  const auto prompt = first_count(u, {"prompt_tokens", "input_tokens"});
  const auto completion = first_count(u, {"completion_tokens", "output_tokens"});
  const auto total = first_count(u, {"total_tokens"});
  usage.prompt_tokens = prompt.value_or(0);
  usage.completion_tokens = completion.value_or(0);
  usage.total_tokens = total ? *total : usage.prompt_tokens + usage.completion_tokens;
  usage.cached_tokens = nested_count(u, {"prompt_tokens_details", "input_tokens_details"}, "cached_tokens");
  usage.reasoning_tokens =
      nested_count(u, {"completion_tokens_details", "output_tokens_details"}, "reasoning_tokens");
  return usage;
}

// Every payload that carries usage spells the key literally; skipping the parse for the others keeps
// the per-chunk cost of a stream near zero.
bool may_have_usage(std::string_view json) { return json.find("\"usage\"") != std::string_view::npos; }

bool is_final_response_event(std::string_view type) {
  return type == "response.completed" || type == "response.incomplete" || type == "response.failed";
}

}  // namespace

std::optional<Usage> extract_usage(std::string_view json) {
  if (!may_have_usage(json)) return std::nullopt;
  const ParsedJson doc(json);
  if (doc.error() != simdjson::SUCCESS) return std::nullopt;
  object root;
  if (doc.root().get_object().get(root) != simdjson::SUCCESS) return std::nullopt;

  object usage;
  if (root.at_key("usage").get_object().get(usage) == simdjson::SUCCESS) return usage_from(usage);

  // Responses API stream: {"type":"response.completed","response":{...,"usage":{...}}}
  std::string_view type;
  if (root.at_key("type").get_string().get(type) == simdjson::SUCCESS && is_final_response_event(type)) {
    if (root.at_pointer("/response/usage").get_object().get(usage) == simdjson::SUCCESS)
      return usage_from(usage);
  }
  return std::nullopt;
}

bool is_usage_only_chunk(std::string_view json) {
  if (!may_have_usage(json)) return false;
  const ParsedJson doc(json);
  if (doc.error() != simdjson::SUCCESS) return false;
  object root;
  if (doc.root().get_object().get(root) != simdjson::SUCCESS) return false;
  simdjson::dom::array choices;
  if (root.at_key("choices").get_array().get(choices) != simdjson::SUCCESS || choices.size() != 0)
    return false;
  object usage;
  return root.at_key("usage").get_object().get(usage) == simdjson::SUCCESS;
}

}  // namespace spillway::api
