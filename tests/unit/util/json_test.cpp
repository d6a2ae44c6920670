#include "util/json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace spillway::util {
namespace {

// The byte-by-byte implementation append_json_escaped replaced, kept verbatim as the reference.
std::size_t reference_utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len;
  uint32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  uint32_t cp = b0 & (0xFF >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

void reference_append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7F) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    const std::size_t len = reference_utf8_sequence_length(s, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
}

std::string escaped(std::string_view s) {
  std::string out;
  append_json_escaped(out, s);
  return out;
}

std::string reference(std::string_view s) {
  std::string out;
  reference_append_json_escaped(out, s);
  return out;
}

// Compares at every alignment (the escaper reads eight bytes at a time) and after a non-empty prefix.
void expect_same(std::string_view s) {
  for (std::size_t shift = 0; shift < 8; ++shift) {
    const std::string padded = std::string(shift, 'p') + std::string(s);
    const std::string_view v = std::string_view(padded).substr(shift);
    ASSERT_EQ(escaped(v), reference(v)) << "input of " << s.size() << " bytes at offset " << shift;
  }
  std::string out = "prefix:";
  append_json_escaped(out, s);
  ASSERT_EQ(out, "prefix:" + reference(s));
}

TEST(AppendJsonEscaped, ShortFormsAndLowercaseHex) {
  EXPECT_EQ(escaped("a\"b\\c\nd\re\tf"), "a\\\"b\\\\c\\nd\\re\\tf");
  EXPECT_EQ(escaped(std::string_view("\x00\x01\x1f\x7f", 4)), "\\u0000\\u0001\\u001f\\u007f");
  EXPECT_EQ(escaped("\x0b\x0c\x1b"), "\\u000b\\u000c\\u001b");
  EXPECT_EQ(escaped("plain text"), "plain text");
  EXPECT_EQ(escaped(""), "");
}

TEST(AppendJsonEscaped, Utf8KeptInvalidBytesReplaced) {
  EXPECT_EQ(escaped("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(escaped("\xFF"), "\xEF\xBF\xBD");
  EXPECT_EQ(escaped("\xC3"), "\xEF\xBF\xBD");                                  // truncated
  EXPECT_EQ(escaped("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(escaped("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST(AppendJsonEscaped, AllSingleBytesAndPairsMatchTheReference) {
  for (int a = 0; a < 256; ++a) {
    const char ca = static_cast<char>(a);
    expect_same(std::string_view(&ca, 1));
    for (int b = 0; b < 256; ++b) {
      const char pair[2] = {ca, static_cast<char>(b)};
      const std::string_view v(pair, 2);
      ASSERT_EQ(escaped(v), reference(v)) << a << " " << b;
    }
  }
}

TEST(AppendJsonEscaped, EdgeCaseSequencesMatchTheReference) {
  const std::vector<std::string> cases = {
      "\xC2\x80",
      "\xDF\xBF",
      "\xC1\xBF",
      "\xE0\x80\x80",
      "\xE0\x9F\xBF",
      "\xE0\xA0\x80",
      "\xED\x9F\xBF",
      "\xED\xA0\x80",
      "\xED\xBF\xBF",
      "\xEE\x80\x80",
      "\xEF\xBF\xBF",
      "\xF0\x80\x80\x80",
      "\xF0\x8F\xBF\xBF",
      "\xF0\x90\x80\x80",
      "\xF4\x8F\xBF\xBF",
      "\xF4\x90\x80\x80",
      "\xF5\x80\x80\x80",
      "\xF8\x88\x80\x80\x80",
      "\xE2\x82",
      "\xF0\x9F\x98",
      "\xF0\x9F",
      "\xE2\x82\xAC\xE2",
      "\x80",
      "\xBF",
      "\xC3\x28",
      "\xE2\x28\xA1",
      "\xF0\x28\x8C\xBC",
      "a\xC3",
      "abcdefg\xC3",
      "abcdefg\xE2\x82",
      "abcdefgh\xF0\x9F\x98\x80",
      "\x7F\x7E\x20\x1F",
      "\"\"\"\"\"\"\"\"\"",
      "\\\\\\\\\\\\\\\\\\",
      std::string(17, '\0'),
      std::string(4096, 'a'),
      std::string(4096, 'a') + "\"",
      "\"" + std::string(4095, 'z'),
      std::string(1000, 'x') + "\xE2\x82\xAC" + std::string(1000, 'y') + "\x01" + std::string(7, 'w'),
  };
  for (const std::string& s : cases) expect_same(s);
}

TEST(AppendJsonEscaped, RandomInputsMatchTheReference) {
  std::mt19937_64 rng(20240611);
  const std::string alphabet[] = {"a",
                                  "Z",
                                  " ",
                                  "~",
                                  "\"",
                                  "\\",
                                  "\n",
                                  "\r",
                                  "\t",
                                  "\x01",
                                  "\x1f",
                                  "\x7f",
                                  "\x80",
                                  "\xFF",
                                  "\xC3\xA9",
                                  "\xE2\x82\xAC",
                                  "\xF0\x9F\x98\x80",
                                  "\xC3",
                                  "\xE2\x82",
                                  "\xED\xA0\x80",
                                  "\xC0\xAF",
                                  "\xF4\x90\x80\x80"};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s;
    const std::size_t len = rng() % 80;
    const int mode = static_cast<int>(rng() % 3);
    for (std::size_t k = 0; k < len; ++k) {
      if (mode == 0) {
        s.push_back(static_cast<char>(rng() & 0xFF));  // uniformly random bytes
      } else if (mode == 1) {
        s += alphabet[rng() % std::size(alphabet)];  // tokens, valid and not
      } else {
        // Mostly ASCII text with rare specials: long runs.
        s.push_back(rng() % 16 == 0 ? static_cast<char>(rng() & 0xFF)
                                    : static_cast<char>(0x20 + rng() % 0x5F));
      }
    }
    expect_same(s);
  }
}

TEST(AppendJsonString, Quotes) {
  std::string out;
  append_json_string(out, "a\"b");
  EXPECT_EQ(out, "\"a\\\"b\"");
}

}  // namespace
}  // namespace spillway::util
