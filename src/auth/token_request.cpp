#include "auth/token_request.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>

#include "util/ascii.h"

namespace spillway::auth {
namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && util::ascii_iequals(s.substr(0, prefix.size()), prefix);
}

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A JSON number or a string holding an integer.
std::optional<int64_t> integer_field(const simdjson::dom::object& object, std::string_view key) {
  simdjson::dom::element element;
  if (object.at_key(key).get(element) != simdjson::SUCCESS) return std::nullopt;
  int64_t i = 0;
  if (element.get_int64().get(i) == simdjson::SUCCESS) return i;
  double d = 0;
  if (element.get_double().get(d) == simdjson::SUCCESS) {
    if (!(d > -1e15 && d < 1e15)) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  std::string_view text;
  if (element.get_string().get(text) == simdjson::SUCCESS) return parse_int(text);
  return std::nullopt;
}

void append_query_param(std::string& target, std::string_view name, std::string_view value) {
  target.push_back(target.find('?') == std::string::npos ? '?' : '&');
  target.append(name);
  target.push_back('=');
  append_url_encoded(target, value);
}

}  // namespace

std::optional<TokenUrl> parse_token_url(std::string_view url) {
  TokenUrl out;
  std::string_view rest;
  if (starts_with_ci(url, "https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else if (starts_with_ci(url, "http://")) {
    rest = url.substr(7);
  } else {
    return std::nullopt;
  }
  for (unsigned char c : rest) {
    if (c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '@' || c == '\\') return std::nullopt;
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else {
    const std::size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
  }
  if (out.host.empty()) return std::nullopt;
  out.port = out.tls ? 443 : 80;
  if (!port_text.empty()) {
    auto port = parse_int(port_text);
    if (!port || *port < 1 || *port > 65535) return std::nullopt;
    out.port = static_cast<uint16_t>(*port);
  }
  return out;
}

void append_url_encoded(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

std::optional<TokenRequest> build_managed_identity_request(const config::ManagedIdentitySettings& settings,
                                                           const IdentityEnvironment& env,
                                                           std::string& error) {
  const bool app_service = env.identity_endpoint && !env.identity_endpoint->empty() && env.identity_header &&
                           !env.identity_header->empty();
  std::string_view base = kImdsTokenUrl;
  std::string_view what = "the IMDS URL";
  if (!settings.endpoint.empty()) {
    base = settings.endpoint;
    what = "managed_identity.endpoint";
  } else if (app_service) {
    base = *env.identity_endpoint;
    what = "IDENTITY_ENDPOINT";
  }
  auto url = parse_token_url(base);
  if (!url) {
    error = std::string(what) + " is not an http(s) URL without a query";
    return std::nullopt;
  }
  TokenRequest request;
  request.method = "GET";
  request.target = url->path;
  request.url = std::move(*url);
  if (app_service) {
    append_query_param(request.target, "resource", settings.resource);
    append_query_param(request.target, "api-version", kAppServiceApiVersion);
    if (!settings.client_id.empty()) append_query_param(request.target, "client_id", settings.client_id);
    request.headers.emplace_back("x-identity-header", *env.identity_header);
  } else {
    append_query_param(request.target, "api-version", kImdsApiVersion);
    append_query_param(request.target, "resource", settings.resource);
    if (!settings.client_id.empty()) append_query_param(request.target, "client_id", settings.client_id);
    request.headers.emplace_back("metadata", "true");
  }
  request.headers.emplace_back("accept", "application/json");
  return request;
}

std::string scope_for_resource(std::string_view resource) {
  std::string scope(resource);
  constexpr std::string_view kDefault = "/.default";
  if (std::string_view(scope).ends_with(kDefault)) return scope;
  if (scope.empty() || scope.back() != '/') scope.push_back('/');
  scope += ".default";
  return scope;
}

std::optional<TokenRequest> build_client_credentials_request(
    const config::ClientCredentialsSettings& settings, std::string& error) {
  std::string authority = settings.authority;
  while (!authority.empty() && authority.back() == '/') authority.pop_back();
  auto url = parse_token_url(authority);
  if (!url) {
    error = "client_credentials.authority is not an http(s) URL without a query";
    return std::nullopt;
  }
  TokenRequest request;
  request.method = "POST";
  request.target = url->path == "/" ? std::string() : url->path;
  request.target += '/';
  append_url_encoded(request.target, settings.tenant_id);
  request.target += "/oauth2/v2.0/token";
  request.url = std::move(*url);
  request.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
  request.headers.emplace_back("accept", "application/json");
  request.body = "grant_type=client_credentials&client_id=";
  append_url_encoded(request.body, settings.client_id);
  request.body += "&client_secret=";
  append_url_encoded(request.body, settings.secret);
  request.body += "&scope=";
  append_url_encoded(request.body, scope_for_resource(settings.resource));
  return request;
}

std::optional<ParsedToken> parse_token_response(std::string_view body,
                                                std::chrono::system_clock::time_point now) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return std::nullopt;
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  std::string_view token;
  if (object.at_key("access_token").get_string().get(token) != simdjson::SUCCESS || token.empty()) {
    return std::nullopt;
  }
  // A token goes into an HTTP header: no control characters or spaces.
  for (unsigned char c : token) {
    if (c <= ' ' || c >= 0x7f) return std::nullopt;
  }
  std::optional<int64_t> lifetime;
  if (auto expires_in = integer_field(object, "expires_in")) {
    lifetime = *expires_in;
  } else if (auto expires_on = integer_field(object, "expires_on")) {
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    lifetime = *expires_on - now_s;
  }
  if (!lifetime || *lifetime <= 0) return std::nullopt;
  return ParsedToken{std::string(token), std::chrono::seconds(*lifetime)};
}

std::string token_error_code(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return {};
  std::string_view code;
  if (root.at_key("error").get_string().get(code) != simdjson::SUCCESS) return {};
  if (code.empty() || code.size() > 64) return {};
  for (char c : code) {
    if (!(std::islower(static_cast<unsigned char>(c)) || c == '_')) return {};
  }
  return std::string(code);
}

std::chrono::steady_clock::duration refresh_margin(std::chrono::steady_clock::duration lifetime) {
  const std::chrono::steady_clock::duration cap = std::chrono::minutes(5);
  return std::min(cap, lifetime / 2);
}

std::chrono::steady_clock::duration retry_backoff(int failures) {
  const int shift = std::clamp(failures - 1, 0, 5);
  const std::chrono::steady_clock::duration delay = std::chrono::seconds(1) * (1 << shift);
  const std::chrono::steady_clock::duration cap = std::chrono::seconds(30);
  return std::min(delay, cap);
}

}  // namespace spillway::auth
