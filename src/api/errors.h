#pragma once
// Every error the gateway itself produces is built here, in the OpenAI error format:
//   {"error":{"message":"...","type":"...","code":"...","param":null}}
// Messages never contain secrets (keys, tokens) and never echo a client key.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spillway::api {

struct ApiError {
  int status = 500;
  std::string type;                                          // e.g. "invalid_request_error", "api_error"
  std::string code;                                          // e.g. "invalid_api_key"; may be empty -> null
  std::string message;                                       // human readable
  std::string param;                                         // may be empty -> null
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers (lowercase names)
};

// The JSON body for `e`, properly escaped.
std::string error_body(const ApiError& e);

namespace errors {
ApiError invalid_json(std::string_view detail);  // 400 invalid_request_error / invalid_json
ApiError invalid_body(std::string_view message, std::string_view param);  // 400 / invalid_request_error
ApiError missing_field(std::string_view field);                           // 400 / missing_required_parameter
ApiError missing_key();                                                   // 401 / missing_api_key
ApiError invalid_key();                                                   // 401 / invalid_api_key
ApiError unknown_route(std::string_view path);                            // 404 / unknown_url
ApiError unknown_model(std::string_view name);  // 404 / model_not_found (DeploymentNotFound)
ApiError method_not_allowed(std::string_view method, std::string_view allowed);  // 405, sets `allow`
ApiError body_too_large(std::size_t limit_bytes);                                // 413 / request_too_large
ApiError unsupported_content_encoding();             // 415 / unsupported_content_encoding (a compressed body)
ApiError bad_request_line(std::string_view detail);  // 400 / bad_request (malformed HTTP)
ApiError backend_unavailable(std::string_view attempts);   // 502 / backend_unavailable
ApiError backend_timeout(std::string_view attempts);       // 504 / backend_timeout
ApiError bad_backend_response(std::string_view attempts);  // 502 / bad_backend_response
ApiError shutting_down();                                  // 503 / shutting_down, sets retry-after: 1
ApiError internal_error();                                 // 500 / internal_error
// 429 / rate_limit_exceeded: every member of the pool answered 429 or is open after one; sets
// retry-after (seconds) and x-spillway-attempts.
ApiError all_backends_rate_limited(std::string_view attempts, int64_t retry_after_seconds);
// 503 / no_backend_available: every member's circuit breaker is open; sets retry-after.
ApiError no_backend_available(std::string_view attempts, int64_t retry_after_seconds);
// 429 / rate_limit_exceeded, type "tokens": a token limit has no room for the request's reservation
// (`requested` tokens, `remaining` free of `tokens_per_minute`); sets retry-after (seconds, >= 1).
ApiError token_rate_exceeded(int64_t tokens_per_minute, int64_t requested, int64_t remaining,
                             int64_t retry_after_seconds);
// 429 / rate_limit_exceeded, type "requests": a request limit is reached; sets retry-after (seconds, >= 1).
ApiError request_rate_exceeded(int64_t requests_per_minute, int64_t retry_after_seconds);
// 403 / quota_exceeded, type "insufficient_quota": the token quota of the period (e.g. "monthly") has no
// room for the request's reservation; `resets_at` is the end of the period (UTC, ISO 8601).
ApiError quota_exceeded(int64_t quota, std::string_view period, int64_t requested, int64_t remaining,
                        std::string_view resets_at);
}  // namespace errors

}  // namespace spillway::api
