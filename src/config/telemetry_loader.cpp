// Identity hashing, token metrics, header enrichment and the other policies.

#include "config/section_loaders.h"

namespace spillway::config {

void load_identity(YamlReader& r, const YAML::Node& node, const std::string& path, IdentitySettings&) {
  r.optional_map(node, path);  // TODO(#5): validate and fill
}

void load_policies(YamlReader& r, const YAML::Node& node, const std::string& path, PoliciesSettings&) {
  r.optional_map(node, path);  // TODO(#5): validate and fill
}

void check_telemetry(YamlReader&, const Config&) {}

}  // namespace spillway::config
