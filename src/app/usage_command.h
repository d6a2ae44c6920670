#pragma once
// `spillway usage top|series ...`: answers from the usage log.

#include <string>
#include <vector>

namespace spillway::app {

// Prints the answer on stdout; returns the exit code (0 ok, 1 the query failed, 2 bad arguments).
int run_usage(const std::vector<std::string>& args);

}  // namespace spillway::app
