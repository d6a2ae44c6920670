#include "tokenizer/pretokenize.h"

#include <cstdint>
#include <string>

#include "tokenizer/pretokenize_ascii.h"
#include "tokenizer/unicode_class.h"

namespace spillway::tokenizer {
namespace {

using detail::ascii_letter;
using detail::ascii_lower;
using detail::ascii_upper;
using detail::CharClass;
using detail::contraction;

struct Char {
  uint32_t cp;
  CharClass cls;
  std::size_t len;
};

inline Char char_at(const unsigned char* p) {
  Char c;
  c.cp = detail::decode_utf8(p, &c.len);
  c.cls = detail::char_class(c.cp);
  return c;
}

inline bool is_cr_lf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

// [^\s\p{L}\p{N}]
inline bool is_punct(CharClass c) { return c == detail::kOther || c == detail::kMark; }

// [^\r\n\p{L}\p{N}]
inline bool is_prefix(const Char& c) {
  return !is_cr_lf(c.cp) && !detail::is_letter(c.cls) && c.cls != detail::kNumber;
}

// \p{N}{1,3} at p. REQUIRES: the code point at p is a number.
std::size_t numbers(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p;
  for (int i = 0; i < 3 && q < end; ++i) {
    const Char c = char_at(q);
    if (c.cls != detail::kNumber) break;
    q += c.len;
  }
  return static_cast<std::size_t>(q - p);
}

// [^\s\p{L}\p{N}]+ then any of `tail` (\r \n, plus / for o200k). REQUIRES: the code point at p is
// punctuation.
std::size_t punctuation(const unsigned char* p, const unsigned char* end, bool slash_in_tail) {
  const unsigned char* q = p;
  while (q < end) {
    const Char c = char_at(q);
    if (!is_punct(c.cls)) break;
    q += c.len;
  }
  while (q < end && (*q == '\r' || *q == '\n' || (slash_in_tail && *q == '/'))) ++q;
  return static_cast<std::size_t>(q - p);
}

// \s*[\r\n]+|\s+(?!\S)|\s+ at p. REQUIRES: the code point at p is White_Space.
std::size_t whitespace(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p;
  const unsigned char* last_newline_end = nullptr;
  const unsigned char* last_start = p;
  while (q < end) {
    const Char c = char_at(q);
    if (c.cls != detail::kSpace) break;
    last_start = q;
    q += c.len;
    if (is_cr_lf(c.cp)) last_newline_end = q;
  }
  // \s*[\r\n]+ backtracks to the last line break of the run ([\r\n]+ cannot extend past it).
  if (last_newline_end) return static_cast<std::size_t>(last_newline_end - p);
  // \s+(?!\S): the whole run at the end of the text, else all but its last code point.
  if (q == end || last_start == p) return static_cast<std::size_t>(q - p);
  return static_cast<std::size_t>(last_start - p);
}

// \p{L}+ at p.
std::size_t letters(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p;
  while (q < end) {
    if (*q < 0x80) {
      if (!ascii_letter(*q)) break;
      ++q;
      continue;
    }
    const Char c = char_at(q);
    if (!detail::is_letter(c.cls)) break;
    q += c.len;
  }
  return static_cast<std::size_t>(q - p);
}

// o200k's two word alternatives from s (after the optional prefix):
//   1: U* W+ where U = [Lu Lt Lm Lo M], W = [Ll Lm Lo M]
//   2: U+ W*
// Returns the end and which alternative matched (0: neither).
struct WordMatch {
  const unsigned char* end;
  int alternative;
};

inline bool is_upper_class(CharClass c) {
  return c == detail::kLu || c == detail::kLt || c == detail::kLm || c == detail::kLo || c == detail::kMark;
}
inline bool is_lower_class(CharClass c) {
  return c == detail::kLl || c == detail::kLm || c == detail::kLo || c == detail::kMark;
}

WordMatch o200k_word(const unsigned char* s, const unsigned char* end) {
  const unsigned char* q = s;
  const unsigned char* last_lower_end = nullptr;
  while (q < end) {
    if (*q < 0x80) {
      if (!ascii_upper(*q)) break;
      ++q;  // in U, not in W
      continue;
    }
    const Char c = char_at(q);
    if (!is_upper_class(c.cls)) break;
    q += c.len;
    if (is_lower_class(c.cls)) last_lower_end = q;
  }
  // U* greedy, then W+: first at the end of the U run (only Ll can be there), else U* gives back code points
  // until one of them is in W; the greedy W+ then stops at the next one, which is not in W.
  if (q < end && (*q < 0x80 ? ascii_lower(*q) : char_at(q).cls == detail::kLl)) {
    while (q < end) {
      if (*q < 0x80) {
        if (!ascii_lower(*q)) break;
        ++q;
        continue;
      }
      const Char c = char_at(q);
      if (!is_lower_class(c.cls)) break;
      q += c.len;
    }
    return {q, 1};
  }
  if (last_lower_end) return {last_lower_end, 1};
  // Alternative 2: U+ then W*, which is empty here (the code point after the U run is not Ll).
  if (q > s) return {q, 2};
  return {nullptr, 0};
}

}  // namespace

namespace detail {

std::size_t next_piece_cl100k_general(const unsigned char* p, const unsigned char* end) {
  const Char c0 = char_at(p);
  if (c0.cp == '\'') {
    if (const std::size_t n = contraction(p, end)) return n;
  }
  if (detail::is_letter(c0.cls)) return letters(p, end);
  if (is_prefix(c0) && p + c0.len < end) {
    if (const std::size_t n = letters(p + c0.len, end)) return c0.len + n;
  }
  if (c0.cls == detail::kNumber) return numbers(p, end);
  if (c0.cp == ' ' && p + 1 < end && is_punct(char_at(p + 1).cls)) return 1 + punctuation(p + 1, end, false);
  if (is_punct(c0.cls)) return punctuation(p, end, false);
  return whitespace(p, end);
}

std::size_t next_piece_o200k_general(const unsigned char* p, const unsigned char* end) {
  const Char c0 = char_at(p);
  const unsigned char* word_end = nullptr;
  if (detail::is_letter(c0.cls)) {
    word_end = o200k_word(p, end).end;  // a letter is in U or W: never fails
  } else if (is_prefix(c0)) {
    const WordMatch m = p + c0.len < end ? o200k_word(p + c0.len, end) : WordMatch{nullptr, 0};
    if (m.alternative == 1) {
      word_end = m.end;
    } else if (c0.cls == detail::kMark) {
      word_end = p + c0.len;  // alternative 1 without the prefix: the mark alone is U* W+
    } else if (m.alternative == 2) {
      word_end = m.end;
    }
  }
  if (word_end) return static_cast<std::size_t>(word_end - p) + contraction(word_end, end);
  if (c0.cls == detail::kNumber) return numbers(p, end);
  if (c0.cp == ' ' && p + 1 < end && is_punct(char_at(p + 1).cls)) return 1 + punctuation(p + 1, end, true);
  if (is_punct(c0.cls)) return punctuation(p, end, true);
  return whitespace(p, end);
}

std::string ascii_kinds_mismatch() {
  for (uint32_t b = 0; b < 0x80; ++b) {
    const CharClass c = char_class(b);
    int want = kAsciiPunct;
    if (b == '\r' || b == '\n') {
      want = kAsciiLineBreak;
    } else if (c == kSpace) {
      want = kAsciiSpace;
    } else if (c == kNumber) {
      want = kAsciiDigit;
    } else if (c == kLu) {
      want = kAsciiUpper;
    } else if (c == kLl) {
      want = kAsciiLower;
    } else if (c != kOther) {
      want = -1;  // no ASCII byte is Lt, Lm, Lo or a mark; the fast paths assume it
    }
    if (kAsciiKinds[b] != want) {
      return "byte " + std::to_string(b) + ": kind " + std::to_string(kAsciiKinds[b]) + ", class " +
             std::to_string(c);
    }
  }
  return {};
}

}  // namespace detail

std::size_t next_piece_cl100k(const unsigned char* p, const unsigned char* end) {
  if (const std::size_t n = detail::ascii_piece<false>(p, end)) return n;
  return detail::next_piece_cl100k_general(p, end);
}

std::size_t next_piece_o200k(const unsigned char* p, const unsigned char* end) {
  if (const std::size_t n = detail::ascii_piece<true>(p, end)) return n;
  return detail::next_piece_o200k_general(p, end);
}

std::vector<std::string_view> pretokenize(Encoding e, std::string_view text) {
  std::vector<std::string_view> pieces;
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  const auto next = e == Encoding::kCl100kBase ? next_piece_cl100k : next_piece_o200k;
  for (const unsigned char* p = begin; p < end;) {
    const std::size_t n = next(p, end);
    pieces.emplace_back(reinterpret_cast<const char*>(p), n);
    p += n;
  }
  return pieces;
}

}  // namespace spillway::tokenizer
