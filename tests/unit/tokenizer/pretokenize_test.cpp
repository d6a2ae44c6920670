#include "tokenizer/pretokenize.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tokenizer/unicode_class.h"
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

// The scanners take ASCII letters without a table lookup (pretokenize.cpp): in ASCII, \p{L} is [A-Za-z],
// o200k's upper class [Lu Lt Lm Lo M] is [A-Z] and its lower class [Ll Lm Lo M] is [a-z].
TEST(Pretokenize, AsciiLetterClassesAreWhatTheFastPathsAssume) {
  using namespace detail;
  for (uint32_t b = 0; b < 0x80; ++b) {
    const CharClass c = char_class(b);
    const bool upper = c == kLu || c == kLt || c == kLm || c == kLo || c == kMark;
    const bool lower = c == kLl || c == kLm || c == kLo || c == kMark;
    EXPECT_EQ(is_letter(c), (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z')) << b;
    EXPECT_EQ(upper, b >= 'A' && b <= 'Z') << b;
    EXPECT_EQ(lower, b >= 'a' && b <= 'z') << b;
  }
}

// Words that mix ASCII and other letters cross between the fast paths and the general ones.
TEST(Pretokenize, WordsMixingAsciiAndOtherLetters) {
  EXPECT_EQ(o2("caf\u00e9 Caf\u00e9s \u00c9COLE \u00e9cole"),
            (Pieces{"caf\u00e9", " Caf\u00e9s", " \u00c9COLE", " \u00e9cole"}));
  EXPECT_EQ(o2("ABC\u00e9def"), (Pieces{"ABC\u00e9def"}));      // U* W+: the last upper is not in W
  EXPECT_EQ(o2("abc\u00c9DEF"), (Pieces{"abc", "\u00c9DEF"}));  // W+ stops at an upper letter
  EXPECT_EQ(o2("x\u02b0y"), (Pieces{"x\u02b0y"}));              // U+02B0 is Lm: in W, so the word goes on
  EXPECT_EQ(o2("\u02b0ABCdef"), (Pieces{"\u02b0ABCdef"}));      // Lm is in U too
  EXPECT_EQ(cl("na\u00efve\u4e2d\u6587text 123"), (Pieces{"na\u00efve\u4e2d\u6587text", " ", "123"}));
}

// The " word" fast path of o200k ends where the regular expression does (expected pieces from the
// pattern itself, run by JavaScript's regex engine with the u flag): at the end of the text, at ASCII that
// is not a lower-case letter, and not at a non-ASCII letter or mark, which the general scanner continues.
TEST(Pretokenize, O200kSpaceWordFastPathEndsWhereThePatternDoes) {
  EXPECT_EQ(o2(" hello world's End"), (Pieces{" hello", " world's", " End"}));
  EXPECT_EQ(o2(" HTTPServer"), (Pieces{" HTTPServer"}));
  EXPECT_EQ(o2(" ABC"), (Pieces{" ABC"}));
  EXPECT_EQ(o2(" ABC."), (Pieces{" ABC", "."}));
  EXPECT_EQ(o2(" abc\u00e9 x"), (Pieces{" abc\u00e9", " x"}));
  EXPECT_EQ(o2(" ABC\u00e9"), (Pieces{" ABC\u00e9"}));
  EXPECT_EQ(o2(" x"), (Pieces{" x"}));
  EXPECT_EQ(o2("Word 's"), (Pieces{"Word", " '", "s"}));
  EXPECT_EQ(o2(" can'T"), (Pieces{" can'T"}));
  EXPECT_EQ(o2("  word"), (Pieces{" ", " word"}));
  EXPECT_EQ(o2(" ab\u0301c"), (Pieces{" ab\u0301c"}));  // a combining mark is in W: the word goes on
  EXPECT_EQ(o2(" "), (Pieces{" "}));
}

TEST(Pretokenize, AsciiKindTableAgreesWithTheUnicodeTable) { EXPECT_EQ(detail::ascii_kinds_mismatch(), ""); }

// Where the ASCII fast paths (next_piece_*) and the general scanners first cut `text` differently, for
// either encoding, as a message; empty when they cut every piece alike.
std::string fast_path_mismatch(const std::string& text) {
  struct Scanner {
    const char* name;
    std::size_t (*fast)(const unsigned char*, const unsigned char*);
    std::size_t (*general)(const unsigned char*, const unsigned char*);
  };
  const Scanner scanners[] = {{"cl100k", next_piece_cl100k, detail::next_piece_cl100k_general},
                              {"o200k", next_piece_o200k, detail::next_piece_o200k_general}};
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  for (const Scanner& s : scanners) {
    for (const unsigned char* p = begin; p < end;) {
      const std::size_t fast = s.fast(p, end);
      const std::size_t general = s.general(p, end);
      if (fast != general) {
        return std::string(s.name) + " at byte " + std::to_string(p - begin) + " of \"" + text +
               "\": fast path " + std::to_string(fast) + " bytes, general scanner " + std::to_string(general);
      }
      p += general;
    }
  }
  return "";
}

// The ASCII fast paths cut the pieces the general scanners cut. Random strings over an alphabet chosen to
// sit on every boundary the fast paths decide (letters of both cases, digits, punctuation, the apostrophe of
// contractions, every ASCII White_Space byte, control bytes) and the non-ASCII characters that would change
// a piece if a fast path looked past them (letters of every class, a combining mark, numbers, White_Space,
// punctuation, U+017F after an apostrophe). Every piece of every string is compared: 40,000 strings.
TEST(Pretokenize, AsciiFastPathsCutWhatTheGeneralScannersCut) {
  const std::vector<std::string> alphabet = {
      "a",      "e",      "s",      "t",      "r",      "l",      "v",      "m",      "d",      "z",
      "A",      "S",      "T",      "L",      "Z",      "0",      "7",      "9",      " ",      " ",
      " ",      "\t",     "\v",     "\f",     "\r",     "\n",     "'",      "'",      ".",      ",",
      "-",      "/",      "(",      "$",      "\x01",   "\x7f",   "\u00e9", "\u00c9", "\u01c5", "\u02b0",
      "\u4e2d", "\u0301", "\u0663", "\u00bd", "\u00a0", "\u3000", "\u2014", "\u00bf", "\u017f", "\U0001F600"};
  std::mt19937 rng(20261205);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<int> length(1, 12);
  int failures = 0;
  for (int i = 0; i < 40000 && failures < 5; ++i) {
    std::string text;
    for (int n = length(rng); n > 0; --n) text += alphabet[pick(rng)];
    const std::string mismatch = fast_path_mismatch(text);
    if (!mismatch.empty()) {
      ADD_FAILURE() << mismatch;
      ++failures;
    }
  }
}

// Words long enough for the 16-byte scan (skip_ascii_lower): runs of 1 to 60 letters of one case or
// mixed, ended by each kind of byte (another case, a digit, an apostrophe, White_Space, punctuation, a
// control byte, a non-ASCII letter, mark or space) or by the end of the text, at every distance from it.
TEST(Pretokenize, LongAsciiWordsEndWhereTheGeneralScannersEndThem) {
  const std::vector<std::string> enders = {
      "",  "A", "a", "Z", "0",    "'",    "'s",     " ",      "\t",     "\n",     ".",
      "`", "{", "@", "[", "\x01", "\x7f", "\u00e9", "\u00c9", "\u0301", "\u00a0", "\u017f"};
  const std::string cases[] = {"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                               "ThequickbrownfoxJumpsoverthelazydoG"};
  int failures = 0;
  for (const std::string& letters : cases) {
    for (std::size_t n = 1; n <= 60 && failures < 5; ++n) {
      std::string word;
      for (std::size_t i = 0; i < n; ++i) word += letters[i % letters.size()];
      for (const std::string& ender : enders) {
        for (const std::string& tail :
             {std::string(), std::string("xyz and more text"), std::string(20, 'q')}) {
          for (const std::string& prefix : {std::string(), std::string(" "), std::string("(")}) {
            const std::string mismatch = fast_path_mismatch(prefix + word + ender + tail);
            if (!mismatch.empty()) {
              ADD_FAILURE() << mismatch;
              ++failures;
            }
          }
        }
      }
    }
  }
}

// Pieces the fast paths now cut, each from the patterns themselves.
TEST(Pretokenize, AsciiFastPathsOnPunctuationNumbersAndWhitespace) {
  EXPECT_EQ(o2("BILL-000000001. Yes, (maybe)?"),
            (Pieces{"BILL", "-", "000", "000", "001", ".", " Yes", ",", " (", "maybe", ")?"}));
  EXPECT_EQ(cl("BILL-000000001. Yes, (maybe)?"),
            (Pieces{"BILL", "-", "000", "000", "001", ".", " Yes", ",", " (", "maybe", ")?"}));
  EXPECT_EQ(o2("a.b\tc\n\nd  e  \n"), (Pieces{"a", ".b", "\tc", "\n\n", "d", " ", " e", "  \n"}));
  EXPECT_EQ(cl("'s 'x x's"), (Pieces{"'s", " '", "x", " x", "'s"}));
  EXPECT_EQ(o2("12\u0663"), (Pieces{"12\u0663"}));      // an Arabic-Indic digit continues the number
  EXPECT_EQ(o2("1\u00bd"), (Pieces{"1\u00bd"}));        // so does a vulgar fraction (No)
  EXPECT_EQ(o2(" \u00a0x"), (Pieces{" ", "\u00a0x"}));  // no-break space: White_Space, and a prefix
  EXPECT_EQ(o2("!!\u2014!"), (Pieces{"!!\u2014!"}));    // non-ASCII punctuation continues the run
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
