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
#include "util/clock.h"

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
  // The answer header() always gives, when it never changes (a static key, no auth, a token endpoint that
  // cannot be used): the proxy then attaches it without a coroutine and without copying it. nullptr for
  // token credentials. The pointee lives as long as the credential.
  virtual const std::optional<CredentialHeader>* fixed_header() const { return nullptr; }
};

// Token credentials (managed identity, client credentials) read IDENTITY_ENDPOINT / IDENTITY_HEADER from the
// process environment here, once. A token endpoint URL that cannot be used is logged (without its value)
// and gives a credential that is always unavailable.
// REQUIRES: `clock` outlives the credential (the credential keeps no reference to `backend`).
std::shared_ptr<BackendCredential> make_backend_credential(
    const config::Backend& backend, const util::Clock& clock = util::SystemClock::instance());

}  // namespace spillway::auth
