#pragma once
// YAML text -> validated Config. Every problem is reported with its YAML path; nothing is thrown for
// bad input.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace spillway::config {

// Looks up an environment variable; returns nullopt when unset. Injected so tests need no real env.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup process_env();

struct LoadResult {
  std::optional<Config> config;     // set iff errors is empty
  std::vector<ConfigError> errors;  // in document order
  std::vector<std::string> warnings;
};

LoadResult load_config_text(std::string_view yaml_text, const EnvLookup& env);
LoadResult load_config_file(const std::string& path, const EnvLookup& env);

// "20ms", "1.5s", "10s", "2m", "1h", bare number = milliseconds. nullopt on bad syntax.
std::optional<Millis> parse_duration(std::string_view text);
// "4MiB", "512KiB", "1GiB", "1MB", "1000", "64KB". nullopt on bad syntax.
std::optional<std::size_t> parse_size(std::string_view text);

}  // namespace spillway::config
