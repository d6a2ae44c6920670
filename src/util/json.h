#pragma once
// Small helpers for writing JSON by hand on hot paths (no DOM).

#include <cstdint>
#include <string>
#include <string_view>

namespace spillway::util {

// Appends `s` JSON-escaped (without surrounding quotes) to `out`. Control characters become \u00XX;
// invalid UTF-8 bytes become U+FFFD so the output is always valid JSON.
void append_json_escaped(std::string& out, std::string_view s);

// The most bytes escaping can make of one input byte (a control character's \u00XX).
inline constexpr std::size_t kJsonEscapedMaxPerByte = 6;

// Writes `s` JSON-escaped, as append_json_escaped does, to `out`, which has room for
// kJsonEscapedMaxPerByte * s.size() bytes; returns the end of what it wrote.
char* write_json_escaped(char* out, std::string_view s);

// Appends "\"s\"" (escaped).
inline void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

}  // namespace spillway::util
