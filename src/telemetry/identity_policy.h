#pragma once
// Policy "identity": sets RequestContext::user_hash from the configured user-id sources and keeps the raw
// id from reaching backends (header sources are removed from the upstream request). Also publishes the
// request's declared tool names as RequestContext::tools once the body has been inspected.

#include "config/telemetry_config.h"
#include "pipeline/policy.h"
#include "telemetry/identity.h"

namespace spillway::telemetry {

class IdentityPolicy final : public pipeline::Policy {
 public:
  // Logs a warning at construction for sources that are not evaluated yet (jwt:) and for user-id sources
  // without a key. REQUIRES: `identity` outlives the policy.
  explicit IdentityPolicy(const config::IdentitySettings& identity);

  // pipeline::Policy
  std::string_view name() const override { return "identity"; }
  std::optional<pipeline::Reply> on_request(pipeline::RequestContext& ctx) override;
  void on_response(pipeline::RequestContext& ctx, http::HeaderList& headers) override;

 private:
  const config::IdentitySettings& identity_;
  UserHasher hasher_;
};

// Copies ctx.fields.tools into ctx.tools when ctx.tools is still empty (the body is inspected after the
// inbound policies today, so whichever hook first sees the fields publishes them).
void publish_tools(pipeline::RequestContext& ctx);

}  // namespace spillway::telemetry
