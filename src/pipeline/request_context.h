#pragma once
// Everything one client request carries through the policy chain and the proxy. Owned by the request's
// coroutine on its worker thread; policies read and write it, never the HTTP layer.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/request_body.h"
#include "api/route.h"
#include "api/usage.h"
#include "config/config.h"
#include "http/types.h"

namespace spillway::pipeline {

using SteadyTime = std::chrono::steady_clock::time_point;

// limits: per-request state of the request and token limit policies (src/limits).
struct LimitsState {
  // The token reservation, held from on_request until it is settled (once).
  bool tokens_held = false;
  int64_t window_tokens = 0;  // reserved in the tokens_per_minute window
  int64_t window_limit = 0;   // tokens_per_minute; 0 = none
  int64_t quota_tokens = 0;   // reserved in the quota bucket
  int64_t quota_limit = 0;    // quota; 0 = none
  std::string window_key;
  std::string quota_key;
  std::chrono::system_clock::time_point reserved_at;
  std::chrono::system_clock::time_point quota_expires;
  // Response header values; -1 = not sent.
  int64_t tokens_remaining = -1;    // x-ratelimit-remaining-tokens
  int64_t quota_remaining = -1;     // x-quota-remaining-tokens
  int64_t tokens_consumed = -1;     // x-tokens-consumed
  int64_t requests_remaining = -1;  // x-ratelimit-remaining-requests
};

struct RequestContext {
  // Inbound
  std::string request_id;
  const http::Request* request = nullptr;  // REQUIRES: outlives the context
  api::Route route;
  api::RequestFields fields;
  bool body_valid = false;  // `fields` and `pool` come from a body that passed inspection
  std::string pool;         // the name the client used (deployment id or body model)
  const config::Subscription* subscription = nullptr;  // null when authentication is disabled
  std::string user_hash;           // keyed hash of the user id (identity policy); "" when unknown
  std::vector<std::string> tools;  // tool / function names declared in the request (identity policy)
  std::chrono::system_clock::time_point started_at;
  SteadyTime started;

  // Outcome, filled by the proxy
  int status = 0;
  std::string backend;
  std::string deployment;  // member deployment (azure-openai) or model sent upstream (openai)
  std::string model;       // model reported by the backend, else the one requested
  int attempts = 0;
  std::string attempt_log;  // "backend:outcome, ..." (never secrets)
  bool stream = false;
  api::Usage usage;
  bool usage_present = false;  // the backend reported usage
  bool client_disconnected = false;
  std::string error_code;                // the gateway's error code when it answered with an error
  std::optional<SteadyTime> first_byte;  // upstream response head received (of the answering attempt)
  std::chrono::steady_clock::duration upstream_time{};  // spent waiting on backends, all attempts
  SteadyTime finished;

  // Headers policies add to the client response.
  http::HeaderList response_headers;
  // Changes policies make to the request headers sent upstream: names removed, then (name, value) set
  // (replacing any header of that name). Lowercase names. Applied by the proxy to every attempt.
  std::vector<std::string> upstream_remove_headers;
  http::HeaderList upstream_set_headers;

  // limits
  LimitsState limits;
  std::string limit_rejection;  // "request_limit", "token_limit" or "token_quota" when a limit refused it

  std::string_view header(std::string_view lowercase_name) const {
    return request ? http::find_header(request->headers, lowercase_name) : std::string_view{};
  }
};

}  // namespace spillway::pipeline
