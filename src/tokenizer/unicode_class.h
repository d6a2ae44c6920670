#pragma once
// Unicode character classes of the tiktoken pre-tokenisation patterns, and UTF-8 decoding for the scanner.
// The table (unicode_tables.cpp) is generated from Unicode 16.0.0, the version the reference implementation
// uses, by gen_unicode_tables.mjs.

#include <cstddef>
#include <cstdint>

namespace spillway::tokenizer::detail {

// Mutually exclusive. kSpace = the White_Space property (regex \s); no White_Space character is a letter,
// a mark or a number.
enum CharClass : uint8_t { kOther = 0, kLu, kLl, kLt, kLm, kLo, kMark, kNumber, kSpace };

inline constexpr uint32_t kUnicodeBlockSize = 128;
extern const uint16_t kUnicodeBlockIndex[0x110000 / kUnicodeBlockSize];
extern const uint8_t kUnicodeBlocks[];

// REQUIRES: cp <= 0x10FFFF.
inline CharClass char_class(uint32_t cp) {
  return static_cast<CharClass>(
      kUnicodeBlocks[kUnicodeBlockIndex[cp / kUnicodeBlockSize] * kUnicodeBlockSize +
                     cp % kUnicodeBlockSize]);
}

inline bool is_letter(CharClass c) { return c >= kLu && c <= kLo; }

// Decodes the code point at p and stores its length in *len.
// REQUIRES: [p, end) is valid UTF-8 and p < end.
inline uint32_t decode_utf8(const unsigned char* p, std::size_t* len) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    *len = 2;
    return (uint32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (b0 < 0xF0) {
    *len = 3;
    return (uint32_t(b0 & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  *len = 4;
  return (uint32_t(b0 & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) | (uint32_t(p[2] & 0x3F) << 6) |
         (p[3] & 0x3F);
}

}  // namespace spillway::tokenizer::detail
