#pragma once
// The validated, immutable configuration snapshot. Built once by load_config() (config/loader.h), never
// mutated afterwards; the runtime objects are built from it in src/app.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/limits_config.h"
#include "config/routing_config.h"
#include "config/telemetry_config.h"

namespace spillway::config {

using Millis = std::chrono::milliseconds;

// A problem found in the configuration. `path` is the YAML path of the offending node, e.g.
// "pools.gpt-4o.members[1].backend"; `message` never contains a secret value.
struct ConfigError {
  std::string path;
  std::string message;
};

struct Timeouts {
  Millis connect{5'000};       // TCP + TLS handshake to a backend
  Millis first_byte{120'000};  // request sent -> response headers received
  Millis idle{60'000};         // between two body reads from a backend (streams: between chunks)
  Millis total{600'000};       // whole upstream exchange
  Millis client_idle{60'000};  // keep-alive idle / header read deadline on client connections
  Millis drain{30'000};        // SIGTERM: how long in-flight requests may still run
};

struct ServerSettings {
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 8080;
  std::string admin_host = "127.0.0.1";
  uint16_t admin_port = 9090;
  bool admin_enabled = true;
  int workers = 0;                                   // 0 = auto (hardware concurrency)
  std::size_t max_body = 4 * 1024 * 1024;            // bytes of client request body
  std::size_t max_response_body = 64 * 1024 * 1024;  // non-streamed backend response
  Timeouts timeouts;
};

enum class BackendKind { kAzureOpenAI, kOpenAI };

struct BackendAuth {
  enum class Kind { kNone, kApiKeyEnv, kBearerEnv, kManagedIdentity, kClientCredentials };
  Kind kind = Kind::kNone;
  std::string env;                               // name of the environment variable
  std::string secret;                            // its value, resolved at load time. Never log.
  ManagedIdentitySettings managed_identity;      // kind == kManagedIdentity
  ClientCredentialsSettings client_credentials;  // kind == kClientCredentials
};

struct Backend {
  std::string name;
  std::string url;        // as configured, e.g. https://x.openai.azure.com/base
  bool tls = false;       // scheme https
  std::string host;       // from url
  uint16_t port = 0;      // from url, or 80/443
  std::string base_path;  // path part of url without trailing '/', may be empty
  BackendKind kind = BackendKind::kOpenAI;
  BackendAuth auth;
  std::string api_version = "2024-10-21";  // used for azure-openai when the client sent none
  bool tls_verify = true;
  std::string ca_file;  // extra CA bundle (PEM); empty = system default
};

struct PoolMember {
  std::string backend;     // key into Config::backends (validated)
  std::string deployment;  // azure-openai: deployment name upstream; empty = the pool name
  std::string model;       // openai: model sent upstream; empty = keep the client's
  int priority = 1;
  int weight = 1;
};

struct Pool {
  std::string name;
  std::vector<PoolMember> members;  // never empty after validation
  RetrySettings retry;
  CircuitBreakerSettings circuit_breaker;
};

enum class Shape { kAzureOpenAI, kOpenAI };

struct Api {
  std::string name;
  std::string prefix;  // "" or "/foundry" (leading '/', no trailing '/')
  Shape shape = Shape::kOpenAI;
};

struct Subscription {
  std::string name;
  std::string key_env;
  std::string key;  // resolved from key_env at load time. Never log.
  std::string product;
  std::map<std::string, std::string> tags;
  std::optional<TokenLimitSettings> token_limit;      // overrides the product's
  std::optional<RequestLimitSettings> request_limit;  // overrides the product's
};

struct Config {
  ServerSettings server;
  std::map<std::string, Backend> backends;
  std::map<std::string, Pool> pools;
  std::vector<Api> apis;
  std::map<std::string, Subscription> subscriptions;
  std::map<std::string, Product> products;
  StateSettings state;
  IdentitySettings identity;
  UsageLogSettings usage_log;
  PoliciesSettings policies;
  TelemetrySettings telemetry;
};

}  // namespace spillway::config
