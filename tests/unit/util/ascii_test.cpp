#include "util/ascii.h"

#include <gtest/gtest.h>

#include <string>

namespace spillway::util {
namespace {

// Every byte value, at every position of strings of every length up to 40 (the eight-byte words and the
// tail), against the byte-at-a-time definition.
TEST(Ascii, AssignLowerMatchesTheBytewiseDefinition) {
  std::string out = "previous contents, longer than some of the inputs";
  for (int b = 0; b < 256; ++b) {
    for (std::size_t len = 1; len <= 40; ++len) {
      for (std::size_t at = 0; at < len; ++at) {
        std::string in(len, 'Q');
        in[at] = static_cast<char>(b);
        std::string want = in;
        for (char& c : want) c = ascii_lower(c);
        assign_ascii_lower(out, in);
        ASSERT_EQ(out, want) << "byte " << b << " at " << at << " of " << len;
      }
    }
  }
}

TEST(Ascii, AssignLowerOnHeaderNames) {
  std::string out;
  assign_ascii_lower(out, "Content-Type");
  EXPECT_EQ(out, "content-type");
  assign_ascii_lower(out, "X-Ms-Client-Request-ID@[\\]^_`{");
  EXPECT_EQ(out, "x-ms-client-request-id@[\\]^_`{");
  assign_ascii_lower(out, "");
  EXPECT_EQ(out, "");
  assign_ascii_lower(out, "\xC3\x89T\xC9");  // non-ASCII bytes are kept, including 0xC9 (0x49 | 0x80)
  EXPECT_EQ(out, "\xC3\x89t\xC9");
}

TEST(Ascii, HexDigitsOfEveryByte) {
  const std::string lower = "0123456789abcdef";
  const std::string upper = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::size_t l = lower.find(c);
    const std::size_t u = upper.find(c);
    const int want_lower = l == std::string::npos ? -1 : static_cast<int>(l);
    const int want_any = want_lower >= 0 ? want_lower : u == std::string::npos ? -1 : static_cast<int>(u);
    EXPECT_EQ(lower_hex_digit(c), want_lower) << b;
    EXPECT_EQ(hex_digit(c), want_any) << b;
  }
}

}  // namespace
}  // namespace spillway::util
