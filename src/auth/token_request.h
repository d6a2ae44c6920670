#pragma once
// Token endpoints, without I/O: building the request for Azure managed identity (IMDS or the App Service /
// Container Apps IDENTITY_ENDPOINT variant) and for the Entra ID client-credentials grant, parsing the
// token response, and the refresh-window arithmetic. The I/O lives in token_credential.cpp.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/routing_config.h"
#include "http/types.h"

namespace spillway::auth {

// The IMDS token endpoint used when neither `endpoint` nor IDENTITY_ENDPOINT/IDENTITY_HEADER is set.
inline constexpr std::string_view kImdsTokenUrl = "http://169.254.169.254/metadata/identity/oauth2/token";
inline constexpr std::string_view kImdsApiVersion = "2018-02-01";
inline constexpr std::string_view kAppServiceApiVersion = "2019-08-01";

// An http(s) URL split for the upstream pool. No user info, query or fragment.
struct TokenUrl {
  bool tls = false;
  std::string host;  // IPv6 literals without brackets
  uint16_t port = 0;
  std::string path;  // "/..." ("/" when the URL has none)
};
std::optional<TokenUrl> parse_token_url(std::string_view url);

// Appends `s` with every byte outside RFC 3986 "unreserved" (ALPHA DIGIT - . _ ~) as %XX: valid as a query
// value and as an application/x-www-form-urlencoded value.
void append_url_encoded(std::string& out, std::string_view s);

// One token request, ready for the upstream pool. `headers` and `body` may hold a secret: never log them.
struct TokenRequest {
  TokenUrl url;
  std::string method;
  std::string target;  // path?query
  http::HeaderList headers;
  std::string body;
};

// The App Service / Container Apps managed-identity environment (IDENTITY_ENDPOINT, IDENTITY_HEADER); both
// must be set for it to be used.
struct IdentityEnvironment {
  std::optional<std::string> identity_endpoint;
  std::optional<std::string> identity_header;  // a secret
};

// nullopt when the base URL (configured endpoint or IDENTITY_ENDPOINT) is not an http(s) URL; `error` then
// says which one (never its value).
std::optional<TokenRequest> build_managed_identity_request(const config::ManagedIdentitySettings& settings,
                                                           const IdentityEnvironment& env,
                                                           std::string& error);

// "https://cognitiveservices.azure.com/" -> "https://cognitiveservices.azure.com/.default"; a resource that
// already ends in "/.default" is kept.
std::string scope_for_resource(std::string_view resource);

std::optional<TokenRequest> build_client_credentials_request(
    const config::ClientCredentialsSettings& settings, std::string& error);

struct ParsedToken {
  std::string access_token;          // never log
  std::chrono::seconds lifetime{0};  // from now
};

// Parses a token endpoint's JSON answer: `access_token` and `expires_in` (seconds, string or number) or
// `expires_on` (epoch seconds, string or number; `now` converts it). expires_in wins when both are present.
// nullopt when the token or both lifetimes are missing, malformed, or the token has already expired.
std::optional<ParsedToken> parse_token_response(std::string_view body,
                                                std::chrono::system_clock::time_point now);

// The OAuth2 `error` code of a failed token response ("invalid_client"), when it is a short identifier;
// otherwise "". Safe to log (no descriptions, which may echo request values).
std::string token_error_code(std::string_view body);

// How long before expiry a token is refreshed: min(5 minutes, half its lifetime).
std::chrono::steady_clock::duration refresh_margin(std::chrono::steady_clock::duration lifetime);

// Retry delay after `failures` consecutive failed fetches (>= 1): 1s, 2s, 4s ... capped at 30s.
std::chrono::steady_clock::duration retry_backoff(int failures);

}  // namespace spillway::auth
