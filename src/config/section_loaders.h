#pragma once
// Loaders of the config sections that belong to one feature each. They report problems through the
// reader (with YAML paths) and fill the given structs. Each lives in the feature's own loader file.

#include <yaml-cpp/yaml.h>

#include <string>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace spillway::config {

// routing_loader.cpp
void load_retry(YamlReader& r, const YAML::Node& node, const std::string& path, RetrySettings& out);
void load_circuit_breaker(YamlReader& r, const YAML::Node& node, const std::string& path,
                          CircuitBreakerSettings& out);

// credentials_loader.cpp
void load_managed_identity(YamlReader& r, const YAML::Node& node, const std::string& path,
                           ManagedIdentitySettings& out);
void load_client_credentials(YamlReader& r, const YAML::Node& node, const std::string& path,
                             ClientCredentialsSettings& out);

// limits_loader.cpp
void load_products(YamlReader& r, const YAML::Node& node, const std::string& path, Config& config);
void load_state(YamlReader& r, const YAML::Node& node, const std::string& path, StateSettings& out);
// A subscription's own `token_limit` / `request_limit` (key is one of those two).
void load_subscription_limit(YamlReader& r, const std::string& key, const YAML::Node& node,
                             const std::string& path, Subscription& out);
// Cross-checks after the whole document is read (e.g. subscriptions name existing products).
void check_limits(YamlReader& r, const Config& config);

// telemetry_loader.cpp
void load_identity(YamlReader& r, const YAML::Node& node, const std::string& path, IdentitySettings& out);
void load_policies(YamlReader& r, const YAML::Node& node, const std::string& path, PoliciesSettings& out);

// usage_log_loader.cpp
void load_usage_log(YamlReader& r, const YAML::Node& node, const std::string& path, UsageLogSettings& out);
void load_telemetry(YamlReader& r, const YAML::Node& node, const std::string& path, TelemetrySettings& out);

// telemetry_loader.cpp
// Cross-checks after the whole document is read (e.g. a user_hash dimension needs a hash key).
void check_telemetry(YamlReader& r, const Config& config);

}  // namespace spillway::config
