#include "auth/backend_credential.h"

#include <stdexcept>

namespace spillway::auth {
namespace {

// api_key_env / bearer_env / no auth: the header is fixed at load time.
class StaticCredential final : public BackendCredential {
 public:
  explicit StaticCredential(std::optional<CredentialHeader> header) : header_(std::move(header)) {}
  boost::asio::awaitable<std::optional<CredentialHeader>> header() override { co_return header_; }

 private:
  std::optional<CredentialHeader> header_;
};

}  // namespace

std::shared_ptr<BackendCredential> make_backend_credential(const config::Backend& backend) {
  using Kind = config::BackendAuth::Kind;
  switch (backend.auth.kind) {
    case Kind::kNone:
      return std::make_shared<StaticCredential>(CredentialHeader{});
    case Kind::kApiKeyEnv:
      return std::make_shared<StaticCredential>(CredentialHeader{"api-key", backend.auth.secret});
    case Kind::kBearerEnv:
      return std::make_shared<StaticCredential>(
          CredentialHeader{"authorization", "Bearer " + backend.auth.secret});
    case Kind::kManagedIdentity:
    case Kind::kClientCredentials:
      break;  // TODO(#3): token endpoints
  }
  throw std::runtime_error("backend " + backend.name + ": this credential kind is not implemented");
}

}  // namespace spillway::auth
