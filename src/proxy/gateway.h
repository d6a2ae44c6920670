#pragma once
// The immutable runtime built from one config snapshot: the config itself and the policy chain. Shared by
// every worker's ProxyHandler; a request keeps the snapshot it started with.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "auth/backend_credential.h"
#include "config/config.h"
#include "pipeline/policy.h"
#include "routing/pool_router.h"

namespace spillway::proxy {

struct Gateway {
  config::Config config;
  pipeline::Chain chain;
  std::map<std::string, std::shared_ptr<auth::BackendCredential>> credentials;  // by backend name
  std::map<std::string, std::unique_ptr<routing::PoolRouter>> routers;          // by pool name
  // Run once by serve_gateway after the server has drained (e.g. flush and close the usage log).
  std::vector<std::function<void()>> on_shutdown;
};

}  // namespace spillway::proxy
