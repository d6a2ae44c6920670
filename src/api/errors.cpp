#include "api/errors.h"

#include "util/json.h"

namespace spillway::api {
namespace {

constexpr std::string_view kInvalidRequest = "invalid_request_error";
constexpr std::string_view kApiError = "api_error";

ApiError make(int status, std::string_view type, std::string_view code, std::string message,
              std::string_view param = {}) {
  ApiError e;
  e.status = status;
  e.type = type;
  e.code = code;
  e.message = std::move(message);
  e.param = param;
  return e;
}

void append_string_or_null(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += "null";
  } else {
    util::append_json_string(out, s);
  }
}

// The backend errors share a shape: which members were tried goes into the message and a header.
ApiError backend_error(int status, std::string_view code, std::string_view what, std::string_view attempts) {
  std::string message(what);
  if (attempts.empty()) {
    message += " (no backend was tried)";
  } else {
    message += " (tried: ";
    message += attempts;
    message += ")";
  }
  ApiError e = make(status, kApiError, code, std::move(message));
  if (!attempts.empty()) e.headers.emplace_back("x-spillway-attempts", std::string(attempts));
  return e;
}

}  // namespace

std::string error_body(const ApiError& e) {
  std::string out;
  out.reserve(64 + e.message.size() + e.type.size() + e.code.size() + e.param.size());
  out += R"({"error":{"message":)";
  util::append_json_string(out, e.message);
  out += R"(,"type":)";
  util::append_json_string(out, e.type.empty() ? kApiError : std::string_view(e.type));
  out += R"(,"param":)";
  append_string_or_null(out, e.param);
  out += R"(,"code":)";
  append_string_or_null(out, e.code);
  out += "}}";
  return out;
}

namespace errors {

ApiError invalid_json(std::string_view detail) {
  std::string message = "Request body is not valid JSON";
  if (!detail.empty()) {
    message += ": ";
    message += detail;
  }
  return make(400, kInvalidRequest, "invalid_json", std::move(message));
}

ApiError invalid_body(std::string_view message, std::string_view param) {
  return make(400, kInvalidRequest, "invalid_value", std::string(message), param);
}

ApiError missing_field(std::string_view field) {
  std::string message = "Missing required parameter: '";
  message += field;
  message += "'.";
  return make(400, kInvalidRequest, "missing_required_parameter", std::move(message), field);
}

ApiError missing_key() {
  return make(401, kInvalidRequest, "missing_api_key",
              "No API key provided. Send it in the 'api-key' or 'Ocp-Apim-Subscription-Key' header, or as "
              "'Authorization: Bearer <key>'.");
}

ApiError invalid_key() {
  return make(401, kInvalidRequest, "invalid_api_key", "Incorrect API key provided.");
}

ApiError unknown_route(std::string_view path) {
  std::string message = "Unknown request URL: ";
  message += path;
  message += ". Check the path and the API prefix.";
  return make(404, kInvalidRequest, "unknown_url", std::move(message));
}

ApiError unknown_model(std::string_view name) {
  std::string message = "Unknown model '";
  message += name;
  message += "': no pool with that name";
  return make(404, kInvalidRequest, "model_not_found", std::move(message), "model");
}

ApiError method_not_allowed(std::string_view method, std::string_view allowed) {
  std::string message = "Method ";
  message += method;
  message += " is not allowed on this path; use ";
  message += allowed;
  message += ".";
  ApiError e = make(405, kInvalidRequest, "method_not_allowed", std::move(message));
  e.headers.emplace_back("allow", std::string(allowed));
  return e;
}

ApiError body_too_large(std::size_t limit_bytes) {
  return make(413, kInvalidRequest, "request_too_large",
              "Request body exceeds the limit of " + std::to_string(limit_bytes) + " bytes");
}

ApiError unsupported_content_encoding() {
  return make(415, kInvalidRequest, "unsupported_content_encoding",
              "Compressed request bodies (Content-Encoding) are not supported: send the JSON uncompressed");
}

ApiError bad_request_line(std::string_view detail) {
  std::string message = "Malformed HTTP request";
  if (!detail.empty()) {
    message += ": ";
    message += detail;
  }
  return make(400, kInvalidRequest, "bad_request", std::move(message));
}

ApiError backend_unavailable(std::string_view attempts) {
  return backend_error(502, "backend_unavailable", "No backend could serve the request", attempts);
}

ApiError backend_timeout(std::string_view attempts) {
  return backend_error(504, "backend_timeout", "The backend did not answer in time", attempts);
}

ApiError bad_backend_response(std::string_view attempts) {
  return backend_error(502, "bad_backend_response", "The backend sent an invalid response", attempts);
}

ApiError shutting_down() {
  ApiError e = make(503, kApiError, "shutting_down", "The gateway is shutting down; retry the request.");
  e.headers.emplace_back("retry-after", "1");
  return e;
}

ApiError internal_error() {
  return make(500, kApiError, "internal_error",
              "The gateway hit an internal error while handling the request.");
}

ApiError all_backends_rate_limited(std::string_view attempts, int64_t retry_after_seconds) {
  ApiError e = make(429, "requests", "rate_limit_exceeded",
                    "Every backend of this deployment is rate limited (tried: " + std::string(attempts) +
                        "). Retry after " + std::to_string(retry_after_seconds) + " s.");
  e.headers.emplace_back("retry-after", std::to_string(retry_after_seconds));
  e.headers.emplace_back("x-spillway-attempts", std::string(attempts));
  return e;
}

ApiError no_backend_available(std::string_view attempts, int64_t retry_after_seconds) {
  ApiError e = make(503, kApiError, "no_backend_available",
                    "No backend of this deployment is available right now; retry after " +
                        std::to_string(retry_after_seconds) + " s.");
  e.headers.emplace_back("retry-after", std::to_string(retry_after_seconds));
  e.headers.emplace_back("x-spillway-attempts", std::string(attempts));
  return e;
}

ApiError token_rate_exceeded(int64_t tokens_per_minute, int64_t requested, int64_t remaining,
                             int64_t retry_after_seconds) {
  ApiError e =
      make(429, "tokens", "rate_limit_exceeded",
           "Token rate limit reached: limit " + std::to_string(tokens_per_minute) + " tokens per minute, " +
               std::to_string(remaining) + " free, this request reserves " + std::to_string(requested) +
               " (estimated prompt plus expected completion). Retry after " +
               std::to_string(retry_after_seconds) + " s.");
  e.headers.emplace_back("retry-after", std::to_string(retry_after_seconds));
  return e;
}

ApiError request_rate_exceeded(int64_t requests_per_minute, int64_t retry_after_seconds) {
  ApiError e = make(429, "requests", "rate_limit_exceeded",
                    "Request rate limit reached: limit " + std::to_string(requests_per_minute) +
                        " requests per minute. Retry after " + std::to_string(retry_after_seconds) + " s.");
  e.headers.emplace_back("retry-after", std::to_string(retry_after_seconds));
  return e;
}

ApiError quota_exceeded(int64_t quota, std::string_view period, int64_t requested, int64_t remaining,
                        std::string_view resets_at) {
  return make(403, "insufficient_quota", "quota_exceeded",
              "Token quota exceeded: " + std::string(period) + " quota " + std::to_string(quota) +
                  " tokens, " + std::to_string(remaining) + " left, this request reserves " +
                  std::to_string(requested) + ". The quota resets at " + std::string(resets_at) + ".");
}

}  // namespace errors
}  // namespace spillway::api
