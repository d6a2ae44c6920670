#include "tokenizer/pretokenize.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/utf8.h"

namespace spillway::tokenizer {
namespace {

using Pieces = std::vector<std::string_view>;

Pieces cl(std::string_view s) { return pretokenize(Encoding::kCl100kBase, s); }
Pieces o2(std::string_view s) { return pretokenize(Encoding::kO200kBase, s); }

TEST(Pretokenize, Cl100kWordsAndContractions) {
  EXPECT_EQ(cl("Hello world's end"), (Pieces{"Hello", " world", "'s", " end"}));
  EXPECT_EQ(cl("don't DON'T"), (Pieces{"don", "'t", " DON", "'T"}));
  EXPECT_EQ(cl("'sup"), (Pieces{"'s", "up"}));
  EXPECT_EQ(cl("'\u017fx"), (Pieces{"'\u017f", "x"}));  // (?i) folds s and U+017F
  EXPECT_EQ(cl(".hello(x)"), (Pieces{".hello", "(x", ")"}));
}

TEST(Pretokenize, Cl100kNumbersAndPunctuation) {
  EXPECT_EQ(cl("1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(cl("a !!!\n\nb"), (Pieces{"a", " !!!\n\n", "b"}));
}

TEST(Pretokenize, Cl100kWhitespace) {
  EXPECT_EQ(cl("a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_EQ(cl("a  \n\n  b"), (Pieces{"a", "  \n\n", " ", " b"}));
  EXPECT_EQ(cl("a \t"), (Pieces{"a", " \t"}));
  EXPECT_EQ(cl("\r\n\r\nx"), (Pieces{"\r\n\r\n", "x"}));
  EXPECT_EQ(cl("\tx"), (Pieces{"\tx"}));
  EXPECT_EQ(cl("\t1"), (Pieces{"\t", "1"}));
}

TEST(Pretokenize, O200kCaseClasses) {
  EXPECT_EQ(o2("helloWorld HTTPServer"), (Pieces{"hello", "World", " HTTPServer"}));
  EXPECT_EQ(o2("ABC def"), (Pieces{"ABC", " def"}));
  EXPECT_EQ(o2("don't WE'LL"), (Pieces{"don't", " WE'LL"}));
  EXPECT_EQ(o2("1234/path//\n/x"), (Pieces{"123", "4", "/path", "//\n/", "x"}));
  // A combining mark after a prefix character joins it; a mark alone is a word (U* W+ with W = the mark).
  EXPECT_EQ(o2(" \u0301a"), (Pieces{" \u0301a"}));
  EXPECT_EQ(o2("\u0301ABC "), (Pieces{"\u0301", "ABC", " "}));
}

TEST(Pretokenize, PiecesCoverTheInput) {
  const std::string text =
      "Mixed 中文text, numbers 12345, emoji 😀😀, marks e\u0301\u0302 and\r\n\r\n  spaces\t\t";
  for (const Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    std::string joined;
    for (const auto p : pretokenize(e, text)) {
      EXPECT_FALSE(p.empty());
      joined += p;
    }
    EXPECT_EQ(joined, text);
  }
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii text that is longer than eight bytes"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"));
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe4\xb8"));          // truncated
}

TEST(Utf8, RepairReplacesMaximalSubparts) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(to_valid_utf8("ok"), "ok");
  EXPECT_EQ(to_valid_utf8("a\xff"
                          "b"),
            "a" + r + "b");
  EXPECT_EQ(to_valid_utf8("\xe4\xb8"
                          "x"),
            r + "x");                                   // one truncated sequence
  EXPECT_EQ(to_valid_utf8("\xe0\x80\x80"), r + r + r);  // E0 needs A0..BF next
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80"), r + r + r);  // surrogates
  EXPECT_EQ(to_valid_utf8("\xf0\x9f\x98"), r);          // truncated emoji
  EXPECT_EQ(to_valid_utf8("\xf0\x9f\x98\x80\x80"), "\xf0\x9f\x98\x80" + r);
}

}  // namespace
}  // namespace spillway::tokenizer
