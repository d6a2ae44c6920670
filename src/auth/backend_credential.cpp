#include "auth/backend_credential.h"

#include <cstdlib>

#include "auth/token_credential.h"
#include "auth/token_request.h"
#include "util/log.h"

namespace spillway::auth {
namespace {

// api_key_env / bearer_env / no auth: the header is fixed at load time. Also the always-unavailable
// credential (nullopt) of a token endpoint that cannot be used.
class StaticCredential final : public BackendCredential {
 public:
  explicit StaticCredential(std::optional<CredentialHeader> header) : header_(std::move(header)) {}
  boost::asio::awaitable<std::optional<CredentialHeader>> header() override { co_return header_; }
  const std::optional<CredentialHeader>* fixed_header() const override { return &header_; }

 private:
  std::optional<CredentialHeader> header_;
};

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::shared_ptr<BackendCredential> token_credential(const config::Backend& backend, std::string label,
                                                    std::optional<TokenRequest> request,
                                                    const std::string& error, const util::Clock& clock) {
  if (!request) {
    util::log_error("backend " + backend.name + ": " + label + ": " + error +
                    "; requests to this backend will fail with credential_unavailable");
    return std::make_shared<StaticCredential>(std::nullopt);
  }
  return make_token_credential(make_http_token_source(backend.name, std::move(label), std::move(*request)),
                               clock);
}

}  // namespace

std::shared_ptr<BackendCredential> make_backend_credential(const config::Backend& backend,
                                                           const util::Clock& clock) {
  using Kind = config::BackendAuth::Kind;
  switch (backend.auth.kind) {
    case Kind::kNone:
      return std::make_shared<StaticCredential>(CredentialHeader{});
    case Kind::kApiKeyEnv:
      return std::make_shared<StaticCredential>(CredentialHeader{"api-key", backend.auth.secret});
    case Kind::kBearerEnv:
      return std::make_shared<StaticCredential>(
          CredentialHeader{"authorization", "Bearer " + backend.auth.secret});
    case Kind::kManagedIdentity: {
      IdentityEnvironment identity_env{env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER")};
      std::string error;
      auto request = build_managed_identity_request(backend.auth.managed_identity, identity_env, error);
      return token_credential(backend, "managed identity", std::move(request), error, clock);
    }
    case Kind::kClientCredentials: {
      std::string error;
      auto request = build_client_credentials_request(backend.auth.client_credentials, error);
      return token_credential(backend, "client credentials", std::move(request), error, clock);
    }
  }
  return std::make_shared<StaticCredential>(std::nullopt);
}

}  // namespace spillway::auth
