#pragma once
// The CLI subcommands. Each takes its arguments (without the subcommand) and returns the exit code.

#include <string>
#include <vector>

namespace spillway::app {

int run_serve(const std::vector<std::string>& args);
int run_check(const std::vector<std::string>& args);
int run_demo(const std::vector<std::string>& args);

}  // namespace spillway::app
