// Backend credentials obtained from a token endpoint: managed identity, client credentials.

#include "config/section_loaders.h"

namespace spillway::config {

void load_managed_identity(YamlReader& r, const YAML::Node&, const std::string& path,
                           ManagedIdentitySettings&) {
  r.error(path, "managed_identity is not supported yet");  // TODO(#3)
}

void load_client_credentials(YamlReader& r, const YAML::Node&, const std::string& path,
                             ClientCredentialsSettings&) {
  r.error(path, "client_credentials is not supported yet");  // TODO(#3)
}

}  // namespace spillway::config
