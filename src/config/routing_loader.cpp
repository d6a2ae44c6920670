// Pool routing settings and token-endpoint backend credentials.

#include "config/section_loaders.h"

namespace spillway::config {

void load_retry(YamlReader& r, const YAML::Node& node, const std::string& path, RetrySettings&) {
  r.optional_map(node, path);  // TODO(#3): validate and fill
}

void load_circuit_breaker(YamlReader& r, const YAML::Node& node, const std::string& path,
                          CircuitBreakerSettings&) {
  r.optional_map(node, path);  // TODO(#3): validate and fill
}

void load_managed_identity(YamlReader& r, const YAML::Node&, const std::string& path,
                           ManagedIdentitySettings&) {
  r.error(path, "managed_identity is not supported yet");  // TODO(#3)
}

void load_client_credentials(YamlReader& r, const YAML::Node&, const std::string& path,
                             ClientCredentialsSettings&) {
  r.error(path, "client_credentials is not supported yet");  // TODO(#3)
}

}  // namespace spillway::config
