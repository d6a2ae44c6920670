// Products, token and request limits, the state store.

#include "config/section_loaders.h"

namespace spillway::config {

void load_products(YamlReader& r, const YAML::Node& node, const std::string& path, Config&) {
  r.optional_map(node, path);  // TODO(#4): validate and fill
}

void load_state(YamlReader& r, const YAML::Node& node, const std::string& path, StateSettings&) {
  r.optional_map(node, path);  // TODO(#4): validate and fill
}

void load_subscription_limit(YamlReader& r, const std::string& key, const YAML::Node&,
                             const std::string& path, Subscription&) {
  r.error(path, key + " is not supported yet");  // TODO(#4)
}

void check_limits(YamlReader&, const Config&) {}

}  // namespace spillway::config
