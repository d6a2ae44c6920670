#pragma once
// The usual HTTP/1.x message head, parsed without Beast. Private to src/http.
//
// Why: Beast's basic_parser looks at a head a byte at a time, looks every field name up in its table of
// known fields and runs its list parser over some values: some 9k instructions for a request's head and its
// upstream response's, a seventh of what the gateway spends on a request. The heads a gateway sees are
// nearly all plain: whole in the first read, every line well formed, framed by one Content-Length.
//
// Contract: these functions accept only heads that Beast's parser accepts too, and report what Beast would
// (method, target, version, status, the fields with Beast's trimming, Content-Length, the Connection
// tokens). Everything else (an incomplete head, obs-fold, Transfer-Encoding, Upgrade, a Content-Length
// list, an unusual Connection value, 1xx/204/304 responses, any byte Beast might judge differently) makes
// them return false, and the caller gives the whole message to Beast: errors and rare forms keep Beast's
// exact behaviour.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/types.h"

namespace spillway::http::detail {

// Appends (name, value) to `headers` as its `count`-th entry (name lowered), reusing the strings of an entry
// left there by an earlier message. After the head, trim_headers(headers, count) drops the stale tail.
void put_header(HeaderList& headers, std::size_t& count, std::string_view name, std::string_view value);

inline void trim_headers(HeaderList& headers, std::size_t count) {
  if (headers.size() > count)
    headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(count), headers.end());
}

// What a head parsed here says about its message.
struct FastHead {
  std::size_t size = 0;  // bytes, the blank line included
  unsigned version = 11;
  int status = 0;  // responses
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  bool connection_close = false;       // a Connection: close
  bool connection_keep_alive = false;  // a Connection: keep-alive
  // Beast's basic_parser::keep_alive() for a message framed by Content-Length (or, for a request, with
  // neither Content-Length nor Transfer-Encoding).
  bool keep_alive() const { return version >= 11 ? !connection_close : connection_keep_alive; }
};

// A request head at the start of `in`: into out.method, out.target and out.headers (lowercase names, strings
// reused; out.body untouched). False when Beast is to parse the message, with `out` partly written then.
// Also false when the head is over `header_limit` bytes or its Content-Length over `body_limit`.
bool parse_request_head(std::string_view in, std::size_t header_limit, std::uint64_t body_limit, Request& out,
                        FastHead& head);

// A response head at the start of `in`: its fields into `headers` (as above). Only responses framed by a
// Content-Length, with a status of 200-599 other than 204 and 304.
bool parse_response_head(std::string_view in, std::size_t header_limit, HeaderList& headers, FastHead& head);

}  // namespace spillway::http::detail
