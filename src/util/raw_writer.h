#pragma once
// Writing through a raw pointer into memory the caller sized beforehand: no capacity check per piece. The
// access log's line, the usage log's packed record, the HTTP heads and JSON escaping write this way on
// every request (each used to carry its own copy of this struct). The caller's bound must cover
// everything written; each member says what it can take at most.

#include <charconv>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "util/json.h"

namespace spillway::util {

struct RawWriter {
  char* p;

  void append(const char* s, std::size_t n) {
    if (n == 0) return;  // an empty string_view may have a null data(): memcpy from null is undefined
    std::memcpy(p, s, n);
    p += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(char c) { *p++ = c; }
  // An integer in decimal: at most 20 characters (int64_t's minimum, uint64_t's maximum).
  template <class Int>
  void integer(Int v) {
    p = std::to_chars(p, p + 20, v).ptr;
  }
  // "s" JSON-escaped: at most 2 + kJsonEscapedMaxPerByte * s.size() characters.
  void append_json_string(std::string_view s) {
    push_back('"');
    p = write_json_escaped(p, s);
    push_back('"');
  }
};

}  // namespace spillway::util
