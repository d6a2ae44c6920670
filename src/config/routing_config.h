#pragma once
// Config of backend pools' routing (retry, circuit breakers) and of backend credentials obtained from a
// token endpoint. Loaded by config/routing_loader.cpp.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace spillway::config {

// A set of HTTP statuses written as [429, "500-599"].
struct StatusSet {
  std::vector<std::pair<int, int>> ranges;  // inclusive
  bool contains(int status) const {
    for (const auto& [lo, hi] : ranges) {
      if (status >= lo && status <= hi) return true;
    }
    return false;
  }
};

// `retry:` of a pool. Connect errors and timeouts always move on to the next member.
struct RetrySettings {
  StatusSet on{{{429, 429}, {500, 599}}};
  int max_attempts = 3;  // attempts in all, the first included; 1..10
};

// `circuit_breaker:` of a pool, applied to each member on its own (routing/pool_router.h).
struct CircuitBreakerSettings {
  bool enabled = true;
  int failures = 3;                          // matching outcomes within `within` that open the member
  std::chrono::milliseconds within{10'000};  // sliding window
  StatusSet on{{{429, 429}, {500, 599}}};    // statuses that count as failures
  std::chrono::milliseconds open_for{30'000};
  bool honor_retry_after = true;  // open exactly until the backend's retry-after hint
  bool on_connect_error = true;   // connect errors and timeouts count as failures
};

// Azure managed identity (IMDS or the App Service IDENTITY_ENDPOINT variant).
struct ManagedIdentitySettings {
  std::string client_id;  // empty = system-assigned
  std::string resource = "https://cognitiveservices.azure.com/";
  std::string endpoint;  // token endpoint override (tests); empty = IDENTITY_ENDPOINT env or IMDS
};

// Entra ID client credentials (OAuth2 client_credentials grant).
struct ClientCredentialsSettings {
  std::string tenant_id;
  std::string client_id;
  std::string secret_env;
  std::string secret;  // resolved from secret_env. Never log.
  std::string resource = "https://cognitiveservices.azure.com/";
  std::string authority = "https://login.microsoftonline.com";  // override for tests
};

}  // namespace spillway::config
