#pragma once
// Builds the upstream request for one pool member from the client request (the "rewrite" of DESIGN.md):
//   azure-openai backend: {base}/openai/deployments/{deployment}/{op}?api-version={v}
//   openai backend:       {base}/v1/{op} with the member's model in the body
// The backend credential (auth/backend_credential.h) is attached by the proxy, not here.
// For streamed chat/completions requests the body asks for usage (stream_options.include_usage).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/request_body.h"
#include "api/route.h"
#include "config/config.h"
#include "http/types.h"

namespace spillway::api {

struct UpstreamCall {
  std::string target;  // origin-form: path + query
  // The bytes to send: the client's body as it is (a view of it: REQUIRES it outlives the call) unless the
  // gateway had to edit it. No copy is made when nothing changes.
  std::string_view body() const { return edited ? std::string_view(edited_body) : client_body; }
  std::string_view client_body;
  std::string edited_body;
  bool edited = false;
  std::vector<std::pair<std::string, std::string>> headers;  // content-type; lowercase names
  bool drop_usage_chunk =
      false;  // the gateway added include_usage: hide the usage-only chunk from the client
};

UpstreamCall build_upstream_call(const Route& route, const RequestFields& fields,
                                 std::string_view client_body, std::string_view pool_name,
                                 const config::PoolMember& member, const config::Backend& backend);

// Client request headers that must not be forwarded upstream (lowercase `name`): hop-by-hop headers,
// host, content-length, the client's credentials (api-key, authorization, ocp-apim-subscription-key),
// accept-encoding (the gateway reads the body, so it asks for identity), expect.
bool forward_request_header(std::string_view name);
// Upstream response headers not passed to the client: hop-by-hop, content-length, transfer-encoding.
bool forward_response_header(std::string_view name);

// The fields a message's Connection headers name for its own hop (RFC 9110 7.6.1: a proxy removes them, and
// Connection itself, before it forwards the message). "close" and "keep-alive" name no field and are left
// out, so for most messages this is empty and costs nothing more per header.
class ConnectionOptions {
 public:
  // Views into `headers`, which must outlive this.
  explicit ConnectionOptions(const http::HeaderList& headers);
  // Whether `name` (lower case) is one of them, in any case.
  bool lists(std::string_view name) const { return !options_.empty() && listed(name); }

 private:
  bool listed(std::string_view name) const;
  std::vector<std::string_view> options_;
};

}  // namespace spillway::api
