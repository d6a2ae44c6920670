#include "util/ascii.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

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

TEST(Ascii, IequalsFoldsAsciiCaseOnly) {
  EXPECT_TRUE(ascii_iequals("identity", "IDENTITY"));
  EXPECT_TRUE(ascii_iequals("", ""));
  EXPECT_FALSE(ascii_iequals("gzip", "identity"));
  EXPECT_FALSE(ascii_iequals("identity", "identit"));
  EXPECT_FALSE(ascii_iequals("identity ", "identity"));
  // Only A-Z fold: bytes that differ by 0x20 elsewhere are different.
  EXPECT_FALSE(ascii_iequals("@", "`"));
  EXPECT_FALSE(ascii_iequals("\xC9", "\xE9"));
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

TEST(Ascii, LowerHexToBytes) {
  unsigned char out[16] = {};
  ASSERT_TRUE(lower_hex_to_bytes("00ff7a10", out));
  EXPECT_EQ(out[0], 0x00);
  EXPECT_EQ(out[1], 0xff);
  EXPECT_EQ(out[2], 0x7a);
  EXPECT_EQ(out[3], 0x10);
  EXPECT_TRUE(lower_hex_to_bytes("", out));
  EXPECT_FALSE(lower_hex_to_bytes("abc", out));  // odd
  // Every byte value at every position of a 32-digit id: accepted exactly when it is a lowercase digit,
  // and then decoded to that digit's value.
  const std::string base = "0123456789abcdef0123456789abcdef";
  for (int b = 0; b < 256; ++b) {
    for (std::size_t at = 0; at < base.size(); ++at) {
      std::string id = base;
      id[at] = static_cast<char>(b);
      const int digit = lower_hex_digit(static_cast<char>(b));
      ASSERT_EQ(lower_hex_to_bytes(id, out), digit >= 0) << "byte " << b << " at " << at;
      if (digit < 0) continue;
      for (std::size_t i = 0; i < 16; ++i) {
        const int want = lower_hex_digit(id[2 * i]) << 4 | lower_hex_digit(id[2 * i + 1]);
        ASSERT_EQ(out[i], want) << "byte " << b << " at " << at << ", out[" << i << "]";
      }
    }
  }
}

TEST(TrimOwsTest, DropsSpacesAndTabsAroundOnly) {
  EXPECT_EQ(trim_ows(" \t a b\t "), "a b");
  EXPECT_EQ(trim_ows("x"), "x");
  EXPECT_EQ(trim_ows(" \t "), "");
  EXPECT_EQ(trim_ows(""), "");
  EXPECT_EQ(trim_ows("\r\na\n"), "\r\na\n");  // only OWS: line breaks are not whitespace here
}

TEST(TakeListItemTest, ItemsInOrderTrimmedEmptyOnesKept) {
  std::string_view rest = " a , b\t,, c d ,";
  std::vector<std::string_view> items;
  while (!rest.empty()) items.push_back(take_list_item(rest));
  // The trailing comma ends the list: no empty item after it.
  EXPECT_EQ(items, (std::vector<std::string_view>{"a", "b", "", "c d"}));

  std::string_view one = "keep-alive";
  EXPECT_EQ(take_list_item(one), "keep-alive");
  EXPECT_TRUE(one.empty());
}

}  // namespace
}  // namespace spillway::util
