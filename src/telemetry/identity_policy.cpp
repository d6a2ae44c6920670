#include "telemetry/identity_policy.h"

#include "util/log.h"

namespace spillway::telemetry {

void publish_tools(pipeline::RequestContext& ctx) {
  if (ctx.tools.empty() && !ctx.fields.tools.empty()) ctx.tools = ctx.fields.tools;
}

IdentityPolicy::IdentityPolicy(const config::IdentitySettings& identity)
    : identity_(identity), hasher_(identity.user_hash_key) {
  bool has_header_source = false;
  for (const config::UserIdSource& source : identity_.user_id) {
    if (source.kind == config::UserIdSource::Kind::kJwtClaim) {
      util::log_warn("identity.user_id: jwt:" + source.name +
                     " is not evaluated yet (no JWT validation): that source never yields a user id");
    } else {
      has_header_source = true;
    }
  }
  if (has_header_source && !hasher_.enabled()) {
    util::log_warn("identity.user_id is configured but environment variable " + identity_.user_hash_key_env +
                   " is not set: requests carry no user hash");
  }
}

std::optional<pipeline::Reply> IdentityPolicy::on_request(pipeline::RequestContext& ctx) {
  if (ctx.request != nullptr && !identity_.user_id.empty()) {
    ctx.user_hash = hasher_.hash(find_user_id(identity_, ctx.request->headers));
    for (const config::UserIdSource& source : identity_.user_id) {
      if (source.kind == config::UserIdSource::Kind::kHeader)
        ctx.upstream_remove_headers.push_back(source.name);
    }
  }
  publish_tools(ctx);
  return std::nullopt;
}

void IdentityPolicy::on_response(pipeline::RequestContext& ctx, http::HeaderList&) { publish_tools(ctx); }

}  // namespace spillway::telemetry
