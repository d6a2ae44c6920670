#pragma once
// How the gateway authenticates to one backend: a static key (api_key_env / bearer_env) or a token from a
// token endpoint (managed identity, Entra client credentials), cached and refreshed before it expires.
// One instance per backend, shared by every worker thread.

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "config/config.h"

namespace spillway::auth {

struct CredentialHeader {
  std::string name;   // "api-key" or "authorization"
  std::string value;  // the key, or "Bearer <token>". Never log.
};

class BackendCredential {
 public:
  virtual ~BackendCredential() = default;
  // The header to attach to a request for this backend, or nullopt when no credential can be had now
  // (token endpoint down; the reason is logged without secrets). kNone gives a header with an empty name.
  // Runs on the calling worker's executor; may fetch a token (bounded by the endpoint's timeouts).
  virtual boost::asio::awaitable<std::optional<CredentialHeader>> header() = 0;
};

// REQUIRES: `backend` outlives the credential.
std::shared_ptr<BackendCredential> make_backend_credential(const config::Backend& backend);

}  // namespace spillway::auth
