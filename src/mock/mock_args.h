#pragma once
// Argument helpers shared by the mock's CLI parser and its per-request scripting headers.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace spillway::mock {

// Parses a non-negative duration: a decimal number with an optional unit "us", "ms" or "s"; a bare number
// is milliseconds ("20ms", "1.5s", "250us", "20"). Returns nullopt on anything else.
std::optional<std::chrono::microseconds> parse_duration(std::string_view text);

// Parses a whole non-negative decimal integer (no sign, no spaces). Returns nullopt on anything else.
std::optional<int64_t> parse_count(std::string_view text);

}  // namespace spillway::mock
