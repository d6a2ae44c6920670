#include "config/address.h"

#include <algorithm>
#include <cctype>

#include "util/ascii.h"

namespace spillway::config {
namespace {

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

// Inside brackets: hex digits, ':' and '.' (IPv4-mapped), plus '%' and a zone name ("fe80::1%eth0").
bool is_ipv6_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.' || c == '%';
}

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// Splits "host[:port]" or "[v6][:port]". `port` is left empty when absent.
bool split_authority(std::string_view authority, std::string& host, std::string_view& port, bool& has_port) {
  has_port = false;
  std::string_view host_part;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host_part = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
    if (host_part.find(':') == std::string_view::npos ||
        !std::all_of(host_part.begin(), host_part.end(), is_ipv6_char)) {
      return false;
    }
  } else {
    auto colon = authority.find(':');
    host_part = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port = authority.substr(colon + 1);
    }
    if (!std::all_of(host_part.begin(), host_part.end(), is_name_char)) return false;
  }
  if (host_part.empty()) return false;
  host.assign(host_part);
  return true;
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort out;
  std::string_view port;
  bool has_port = false;
  if (!split_authority(text, out.host, port, has_port) || !has_port) return std::nullopt;
  auto value = parse_port(port);
  if (!value) return std::nullopt;
  out.port = *value;
  return out;
}

std::optional<BackendUrl> parse_backend_url(std::string_view url, std::string& error) {
  if (std::any_of(url.begin(), url.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    error = "must not contain whitespace";
    return std::nullopt;
  }
  BackendUrl out;
  auto sep = url.find("://");
  auto scheme = sep == std::string_view::npos ? std::string_view{} : url.substr(0, sep);
  if (util::ascii_iequals(scheme, "https")) {
    out.tls = true;
  } else if (!util::ascii_iequals(scheme, "http")) {
    error = "must start with http:// or https://";
    return std::nullopt;
  }
  auto rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    error = "must not contain a query or fragment";
    return std::nullopt;
  }
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    error = "must not contain user info (use auth instead)";
    return std::nullopt;
  }
  std::string_view port;
  bool has_port = false;
  if (!split_authority(authority, out.host, port, has_port)) {
    error = "has an invalid host";
    return std::nullopt;
  }
  if (has_port) {
    auto value = parse_port(port);
    if (!value || *value == 0) {
      error = "has an invalid port";
      return std::nullopt;
    }
    out.port = *value;
  } else {
    out.port = out.tls ? 443 : 80;
  }
  if (slash != std::string_view::npos) {
    auto path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out.base_path.assign(path);
  }
  return out;
}

}  // namespace spillway::config
