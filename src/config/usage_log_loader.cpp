// The usage log and OTLP export.

#include "config/section_loaders.h"

namespace spillway::config {

void load_usage_log(YamlReader& r, const YAML::Node& node, const std::string& path, UsageLogSettings&) {
  r.optional_map(node, path);  // TODO(#5): validate and fill
}

void load_telemetry(YamlReader& r, const YAML::Node& node, const std::string& path, TelemetrySettings&) {
  r.optional_map(node, path);  // TODO(#5): validate and fill
}

}  // namespace spillway::config
