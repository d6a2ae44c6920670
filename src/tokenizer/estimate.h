#pragma once
// Prompt-token estimation on a body that is already parsed (the gateway parses each request body once).
// The string-body form is in tokenizer.h.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace spillway::tokenizer {

// estimate_prompt_tokens(e, operation, body) for the parsed `root` of a body of `body_size` bytes: the same
// count. Never throws; a root that is not an object counts as body_size / 4.
int64_t estimate_prompt_tokens(Encoding e, std::string_view operation, simdjson::dom::element root,
                               std::size_t body_size);

}  // namespace spillway::tokenizer
