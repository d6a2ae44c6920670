#pragma once
// UTF-8 validation and repair. The tokenizer works on code points, so invalid UTF-8 is repaired first, the
// way the reference sees it: the npm packages take JavaScript strings, and a byte string becomes one through
// the WHATWG UTF-8 decoder (TextDecoder, Buffer#toString), which replaces each maximal invalid subpart with
// U+FFFD. Lone surrogates cannot occur: UTF-8 that encodes them (ED A0..BF xx) is invalid and replaced.

#include <string>
#include <string_view>

namespace spillway::tokenizer {

// True if every byte of `s` is ASCII (below 0x80).
bool is_ascii(std::string_view s);

// True if `s` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view s);

// `s` with every maximal subpart of an ill-formed sequence replaced by U+FFFD (EF BF BD), exactly as the
// WHATWG decoder does. Valid input is returned unchanged.
std::string to_valid_utf8(std::string_view s);

}  // namespace spillway::tokenizer
