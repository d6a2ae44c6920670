#pragma once
// Percent-encoding helpers for URL paths and queries (RFC 3986). Private to src/api.

#include <optional>
#include <string>
#include <string_view>

namespace spillway::api {

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query strings). nullopt when an
// escape is malformed ("%4", "%zz").
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

// Appends `s` to `out` with every byte outside RFC 3986 "unreserved" (ALPHA DIGIT - . _ ~) escaped as %XX,
// so the result is one path segment or one query value whatever `s` holds.
void append_percent_encoded(std::string& out, std::string_view s);

// True when a decoded path segment is usable as a deployment/pool name: no control bytes, no '/'.
bool is_safe_name(std::string_view s);

}  // namespace spillway::api
