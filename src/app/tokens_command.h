#pragma once
// `spillway tokens count|estimate`: the native tokenizer, for scripts.

#include <string>
#include <vector>

namespace spillway::app {

int run_tokens(const std::vector<std::string>& args);

}  // namespace spillway::app
