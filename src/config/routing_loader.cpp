// Pool routing settings: retry and circuit breakers.

#include "config/section_loaders.h"

namespace spillway::config {

void load_retry(YamlReader& r, const YAML::Node& node, const std::string& path, RetrySettings&) {
  r.optional_map(node, path);  // TODO(#3): validate and fill
}

void load_circuit_breaker(YamlReader& r, const YAML::Node& node, const std::string& path,
                          CircuitBreakerSettings&) {
  r.optional_map(node, path);  // TODO(#3): validate and fill
}

}  // namespace spillway::config
