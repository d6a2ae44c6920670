#pragma once
// Inspects a client request body once (simdjson) for the few fields the gateway needs, and rewrites
// it byte-for-byte-preserving for the upstream call (only the edited spans change).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/errors.h"
#include "api/route.h"

namespace spillway::api {

class ParsedJson;

struct RequestFields {
  std::string model;                  // "" when absent
  bool stream = false;                // "stream": true
  bool client_wants_usage = false;    // "stream_options": {"include_usage": true}
  std::optional<int64_t> max_tokens;  // max_tokens | max_completion_tokens | max_output_tokens
  // Names of the tools the request declares, first occurrence order, no duplicates: tools[].function.name
  // (chat), tools[].name (Responses API function tools), else tools[].type (Responses API built-in tools
  // such as "web_search_preview"), and legacy functions[].name. Malformed entries are skipped, never
  // rejected (the backend validates tools). For telemetry only.
  std::vector<std::string> tools;
  // The parsed body, for policies that read more of it (the prompt-token estimate) without parsing again.
  // Null for GET models. Immutable; safe to keep across co_await. The proxy drops it once the request
  // policies have run.
  std::shared_ptr<const ParsedJson> document;
};

// Validates the body for `route.op`: must be a JSON object (else invalid_json), chat.completions needs a
// "messages" array, completions a "prompt", embeddings an "input", responses an "input"; "model" must be
// a non-empty string when route.model_in_body (else missing_field("model")). Wrong types of the inspected
// fields (e.g. "stream": "yes") give invalid_body with param set. GET models: body ignored.
std::variant<RequestFields, ApiError> inspect_body(std::string_view body, const Route& route);

struct BodyEdits {
  std::optional<std::string> set_model;  // replace the "model" value (insert it when absent)
  bool force_include_usage = false;      // ensure "stream_options":{"include_usage":true,...}
};

// Applies `edits` to the JSON object `body` (already validated by inspect_body). Bytes outside the edited
// values are preserved exactly; existing keys inside "stream_options" are kept. Returns the new body, or
// the original when there is nothing to change.
std::string apply_body_edits(std::string_view body, const BodyEdits& edits);

}  // namespace spillway::api
