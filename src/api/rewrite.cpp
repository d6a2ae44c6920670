#include "api/rewrite.h"

#include <array>

#include "api/percent.h"
#include "util/ascii.h"

namespace spillway::api {
namespace {

// Azure OpenAI serves these outside /openai/deployments/{id}/: the Responses API (v1 surface, the
// deployment named by "model" in the body) and the model list.
bool azure_v1_operation(Operation op) { return op == Operation::kResponses; }

std::string azure_target(const Route& route, std::string_view deployment, const config::Backend& backend) {
  std::string target = backend.base_path;
  if (azure_v1_operation(route.op)) {
    target += "/openai/v1/";
    target += operation_path(route.op);
    return target;
  }
  if (route.op == Operation::kModels) {
    target += "/openai/models";
  } else {
    target += "/openai/deployments/";
    append_percent_encoded(target, deployment);
    target.push_back('/');
    target += operation_path(route.op);
  }
  target += "?api-version=";
  append_percent_encoded(target, route.api_version.empty() ? backend.api_version : route.api_version);
  return target;
}

std::string openai_target(const Route& route, const config::Backend& backend) {
  std::string target = backend.base_path;
  target += "/v1/";
  target += operation_path(route.op);
  return target;
}

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kHopByHop = {"connection",
                                                                "keep-alive",
                                                                "proxy-connection",
                                                                "proxy-authenticate",
                                                                "proxy-authorization",
                                                                "te",
                                                                "trailer",
                                                                "transfer-encoding",
                                                                "upgrade"};
  for (const std::string_view h : kHopByHop) {
    if (name == h) return true;
  }
  return false;
}

}  // namespace

UpstreamCall build_upstream_call(const Route& route, const RequestFields& fields,
                                 std::string_view client_body, std::string_view pool_name,
                                 const config::PoolMember& member, const config::Backend& backend) {
  UpstreamCall call;
  const std::string_view deployment =
      member.deployment.empty() ? pool_name : std::string_view(member.deployment);

  BodyEdits edits;
  if (backend.kind == config::BackendKind::kAzureOpenAI) {
    call.target = azure_target(route, deployment, backend);
    // On the v1 surface Azure finds the deployment through "model"; elsewhere it is in the URL and the
    // client's model is left alone.
    if (azure_v1_operation(route.op)) edits.set_model = std::string(deployment);
  } else {
    call.target = openai_target(route, backend);
    if (!member.model.empty()) {
      edits.set_model = member.model;
    } else if (fields.model.empty()) {
      // An Azure-shaped client named the pool in the URL only; an OpenAI backend needs it in the body.
      edits.set_model = std::string(pool_name);
    }
  }

  const bool streams_chat =
      fields.stream && (route.op == Operation::kChatCompletions || route.op == Operation::kCompletions);
  if (streams_chat && !fields.client_wants_usage) {
    edits.force_include_usage = true;
    call.drop_usage_chunk = true;
  }

  if (route.op != Operation::kModels) {
    call.client_body = client_body;
    if (edits.set_model || edits.force_include_usage) {
      call.edited_body = apply_body_edits(client_body, edits);
      call.edited = true;
    }
    call.headers.emplace_back("content-type", "application/json");
  }

  return call;
}

bool forward_request_header(std::string_view name) {
  if (is_hop_by_hop(name)) return false;
  // content-type: build_upstream_call sets it, so the client's copy would be a duplicate.
  static constexpr std::array<std::string_view, 8> kDropped = {
      "host",   "content-length", "api-key", "authorization", "ocp-apim-subscription-key", "accept-encoding",
      "expect", "content-type"};
  for (const std::string_view h : kDropped) {
    if (name == h) return false;
  }
  return true;
}

bool forward_response_header(std::string_view name) {
  return !is_hop_by_hop(name) && name != "content-length";
}

ConnectionOptions::ConnectionOptions(const http::HeaderList& headers) {
  constexpr std::string_view kConnection = "connection";
  const auto names_no_field = [](std::string_view option) {
    return option.empty() || util::ascii_iequals(option, "keep-alive") ||
           util::ascii_iequals(option, "close");
  };
  for (const auto& [name, value] : headers) {
    if (std::string_view(name) != kConnection) continue;  // the lengths first: one compare for most
    if (names_no_field(value)) continue;  // what nearly every backend sends, whole: nothing to split
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::string_view option = util::take_list_item(rest);
      if (!names_no_field(option)) options_.push_back(option);
    }
  }
}

bool ConnectionOptions::listed(std::string_view name) const {
  for (const std::string_view option : options_) {
    if (util::ascii_iequals(option, name)) return true;
  }
  return false;
}

}  // namespace spillway::api
