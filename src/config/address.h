#pragma once
// Private to src/config: the syntax of listen addresses and backend URLs. Pure functions, no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spillway::config {

struct HostPort {
  std::string host;  // IPv6 literals without brackets: "::1"
  uint16_t port = 0;
};

// Parses "host:port" or "[ipv6]:port". The port is required and may be 0 (pick a free port). The host is
// not resolved, only checked for characters that cannot appear in a name or IP literal.
std::optional<HostPort> parse_host_port(std::string_view text);

struct BackendUrl {
  bool tls = false;
  std::string host;
  uint16_t port = 0;      // explicit port, or 80/443 from the scheme
  std::string base_path;  // "" or "/base" (no trailing '/')
};

// Parses an http:// or https:// URL with an optional port and path. Rejects user info, a query, a
// fragment and whitespace. On failure returns nullopt and sets `error` to a message naming the problem.
std::optional<BackendUrl> parse_backend_url(std::string_view url, std::string& error);

}  // namespace spillway::config
