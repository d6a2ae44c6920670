#include "auth/authenticate_policy.h"

#include "api/errors.h"
#include "pipeline/reply.h"

namespace spillway::auth {

std::optional<pipeline::Reply> AuthenticatePolicy::on_request(pipeline::RequestContext& ctx) {
  if (index_.empty()) return std::nullopt;
  const std::string_view key = extract_client_key(ctx.request->headers);
  if (key.empty()) {
    ctx.error_code = "missing_api_key";
    return pipeline::error_reply(api::errors::missing_key());
  }
  ctx.subscription = index_.find(key);
  if (!ctx.subscription) {
    ctx.error_code = "invalid_api_key";
    return pipeline::error_reply(api::errors::invalid_key());
  }
  return std::nullopt;
}

}  // namespace spillway::auth
