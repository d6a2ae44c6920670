#pragma once
// Policy "authenticate": the request must carry a key of a configured subscription (401 otherwise).
// With no subscriptions configured it lets every request through (the loader warns about that).

#include "auth/client_keys.h"
#include "pipeline/policy.h"

namespace spillway::auth {

class AuthenticatePolicy final : public pipeline::Policy {
 public:
  explicit AuthenticatePolicy(const std::map<std::string, config::Subscription>& subscriptions)
      : index_(subscriptions) {}

  // pipeline::Policy
  std::string_view name() const override { return "authenticate"; }
  std::optional<pipeline::Reply> on_request(pipeline::RequestContext& ctx) override;

 private:
  ClientKeyIndex index_;
};

}  // namespace spillway::auth
