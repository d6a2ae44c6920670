// Backend credentials obtained from a token endpoint: managed identity, client credentials.

#include "config/address.h"
#include "config/section_loaders.h"

namespace spillway::config {
namespace {

bool is_guid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

std::optional<std::string> guid_value(YamlReader& r, const YAML::Node& node, const std::string& path) {
  auto text = r.non_empty_string(node, path);
  if (!text) return std::nullopt;
  if (!is_guid(*text)) {
    r.error(path, "expected a GUID such as 00000000-0000-0000-0000-000000000000");
    return std::nullopt;
  }
  return text;
}

// A resource URI such as https://cognitiveservices.azure.com/ (no whitespace or control characters).
std::optional<std::string> resource_value(YamlReader& r, const YAML::Node& node, const std::string& path) {
  auto text = r.non_empty_string(node, path);
  if (!text) return std::nullopt;
  for (unsigned char c : *text) {
    if (c <= ' ' || c == 0x7f) {
      r.error(path, "must not contain whitespace or control characters");
      return std::nullopt;
    }
  }
  return text;
}

// An http(s) token endpoint or authority URL. The URL itself is not echoed (a query could hold a secret).
std::optional<std::string> url_value(YamlReader& r, const YAML::Node& node, const std::string& path) {
  auto text = r.non_empty_string(node, path);
  if (!text) return std::nullopt;
  std::string why;
  if (!parse_backend_url(*text, why)) {
    r.error(path, "invalid URL: " + why);
    return std::nullopt;
  }
  return text;
}

// A directory (tenant) id: a GUID or a domain name such as contoso.onmicrosoft.com.
std::optional<std::string> tenant_value(YamlReader& r, const YAML::Node& node, const std::string& path) {
  auto text = r.non_empty_string(node, path);
  if (!text) return std::nullopt;
  for (unsigned char c : *text) {
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_')) {
      r.error(path, "expected a tenant id (a GUID or a domain name)");
      return std::nullopt;
    }
  }
  return text;
}

}  // namespace

void load_managed_identity(YamlReader& r, const YAML::Node& node, const std::string& path,
                           ManagedIdentitySettings& out) {
  // `managed_identity:` or `managed_identity: {}`: the system-assigned identity with the defaults.
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "client_id") {
      if (auto id = guid_value(r, value, p)) out.client_id = std::move(*id);
    } else if (key == "resource") {
      if (auto resource = resource_value(r, value, p)) out.resource = std::move(*resource);
    } else if (key == "endpoint") {
      if (auto url = url_value(r, value, p)) out.endpoint = std::move(*url);
    } else {
      r.unknown_key(p, key);
    }
  });
}

void load_client_credentials(YamlReader& r, const YAML::Node& node, const std::string& path,
                             ClientCredentialsSettings& out) {
  if (!r.expect_map(node, path)) return;
  bool has_tenant = false;
  bool has_client = false;
  bool has_secret = false;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "tenant_id") {
      has_tenant = true;
      if (auto tenant = tenant_value(r, value, p)) out.tenant_id = std::move(*tenant);
    } else if (key == "client_id") {
      has_client = true;
      if (auto id = guid_value(r, value, p)) out.client_id = std::move(*id);
    } else if (key == "secret_env") {
      has_secret = true;
      if (auto env = r.env_value(value, p)) {
        out.secret_env = std::move(env->name);
        out.secret = std::move(env->value);
      }
    } else if (key == "resource") {
      if (auto resource = resource_value(r, value, p)) out.resource = std::move(*resource);
    } else if (key == "authority") {
      if (auto url = url_value(r, value, p)) out.authority = std::move(*url);
    } else {
      r.unknown_key(p, key);
    }
  });
  if (!has_tenant) r.missing_key(path, "tenant_id");
  if (!has_client) r.missing_key(path, "client_id");
  if (!has_secret) r.missing_key(path, "secret_env");
}

}  // namespace spillway::config
