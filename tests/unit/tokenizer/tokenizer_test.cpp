#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tokenizer/encoding.h"
#include "tokenizer/rank_data.h"
#include "tokenizer/rank_table.h"

namespace spillway::tokenizer {
namespace {

using Ids = std::vector<uint32_t>;
constexpr Encoding kCl = Encoding::kCl100kBase;
constexpr Encoding kO2 = Encoding::kO200kBase;

// Expected ids are the `tiktoken` npm package's encode_ordinary().
// The tables are the blobs the build made from OpenAI's files (bytes as the generator hashed them), read in
// place: no parsing at first use.
TEST(RankData, TheEmbeddedBlobsAreTheOnesTheBuildMade) {
  for (const Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    const auto blob = embedded_rank_blob(e);
    uint64_t fnv = 0xcbf29ce484222325ull;
    for (const unsigned char b : blob) fnv = (fnv ^ b) * 0x100000001b3ull;
    EXPECT_EQ(fnv, embedded_rank_blob_fnv(e));
    const RankTable& table = rank_table(e);
    EXPECT_EQ(table.serialize().data(), blob.data()) << "a view of the embedded bytes, not a copy";
    EXPECT_EQ(table.size(), e == Encoding::kCl100kBase ? 100256u : 199998u);
  }
}

TEST(Encode, KnownIds) {
  EXPECT_EQ(encode(kCl, "hello world"), (Ids{15339, 1917}));
  EXPECT_EQ(encode(kO2, "hello world"), (Ids{24912, 2375}));
  EXPECT_EQ(encode(kCl, "tiktoken is great!"), (Ids{83, 1609, 5963, 374, 2294, 0}));
  EXPECT_EQ(encode(kO2, "tiktoken is great!"), (Ids{83, 8251, 2488, 382, 2212, 0}));
  EXPECT_EQ(encode(kCl, "don't stop HTTPServer helloWorld"),
            (Ids{15357, 956, 3009, 10339, 5592, 24748, 10343}));
  EXPECT_EQ(encode(kO2, "don't stop HTTPServer helloWorld"), (Ids{91418, 5666, 21929, 6444, 40617, 13046}));
  EXPECT_EQ(encode(kCl, "  \n\n  x"), (Ids{19124, 220, 865}));
  EXPECT_EQ(encode(kO2, "  \n\n  x"), (Ids{11691, 220, 1215}));
  EXPECT_EQ(encode(kCl, "你好，世界"), (Ids{57668, 53901, 3922, 3574, 244, 98220}));
  EXPECT_EQ(encode(kO2, "你好，世界"), (Ids{177519, 979, 28428}));
  EXPECT_EQ(encode(kO2, "👨‍👩‍👧‍👦"),
            (Ids{28823, 101, 2524, 28823, 102, 2524, 28823, 100, 2524, 28823, 99}));
}

TEST(Encode, EmptyInput) {
  EXPECT_TRUE(encode(kCl, "").empty());
  EXPECT_TRUE(encode(kO2, "").empty());
  EXPECT_EQ(count_tokens(kO2, ""), 0u);
}

TEST(Encode, SpecialTokenTextIsPlainText) {
  EXPECT_EQ(encode(kCl, "<|endoftext|>"), (Ids{27, 91, 8862, 728, 428, 91, 29}));
  EXPECT_EQ(encode(kO2, "<|endoftext|>"), (Ids{27, 91, 419, 1440, 919, 91, 29}));
  for (const uint32_t id : encode(kCl, "<|fim_prefix|><|endofprompt|>")) EXPECT_LT(id, 100256u);
}

TEST(Encode, InvalidUtf8BecomesReplacementCharacters) {
  // The reference sees a JavaScript string: each maximal invalid subpart is one U+FFFD.
  EXPECT_EQ(encode(kCl,
                   "a\xff"
                   "b"),
            (Ids{64, 5809, 65}));
  EXPECT_EQ(encode(kO2,
                   "a\xff"
                   "b"),
            (Ids{64, 3251, 65}));
  EXPECT_EQ(encode(kCl,
                   "a\xe2\x82"
                   "b"),
            encode(kCl,
                   "a\xEF\xBF\xBD"
                   "b"));
  EXPECT_EQ(encode(kO2, "\xed\xa0\x80"), encode(kO2, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
  EXPECT_EQ(count_tokens(kO2, "\xc0"), encode(kO2, "\xEF\xBF\xBD").size());
}

TEST(Encode, CountEqualsEncodeSize) {
  const std::string text =
      "The quick brown fox jumps over the lazy dog's back; 1234567 times.\n\n\tfn(x) { return x; }";
  EXPECT_EQ(count_tokens(kCl, text), encode(kCl, text).size());
  EXPECT_EQ(count_tokens(kO2, text), encode(kO2, text).size());
}

TEST(Encode, DecodeRoundTrips) {
  const std::vector<std::string> texts = {
      "Hello, world! How's it going?",
      "  leading and trailing spaces  ",
      "中文 日本語 한국어 العربية हिन्दी русский ελληνικά",
      "emoji 👍🏽 🇫🇷 1️⃣ 👩‍❤️‍💋‍👨",
      "z\u0301\u0302\u0303a\u0308 \u0301",
      std::string(5000, 'x') + "\n" + std::string(3000, ' ') + std::string(2000, '7'),
  };
  for (const auto& t : texts) {
    for (const Encoding e : {kCl, kO2}) {
      const Ids ids = encode(e, t);
      EXPECT_EQ(decode(e, ids), t) << encoding_name(e) << ": " << t.substr(0, 40);
    }
  }
}

// A long run of letters is a single piece: merging must not be quadratic.
// Thousands of distinct word tokens (" word": the splitter yields each as one piece, which is that token),
// more than the per-thread cache of recent tokens holds, so entries are evicted and slots shared by
// different words: every pass, cold or from the cache, must give exactly the tokens' own ranks.
TEST(Encode, RepeatedWordsGiveTheSameIdsFromTheCache) {
  for (const Encoding e : {kCl, kO2}) {
    const RankTable& ranks = rank_table(e);
    std::string text;
    Ids expected;
    for (uint32_t r = 0; r < ranks.size() && expected.size() < 6000; ++r) {
      const std::string_view t = ranks.token(r);
      if (t.size() < 4 || t.size() > 24 || t[0] != ' ') continue;
      bool lower = true;
      for (const char c : t.substr(1)) lower = lower && c >= 'a' && c <= 'z';
      if (!lower) continue;
      text += t;
      expected.push_back(r);
    }
    ASSERT_GT(expected.size(), 5000u) << encoding_name(e);
    for (int pass = 0; pass < 3; ++pass) {
      EXPECT_EQ(encode(e, text), expected) << encoding_name(e) << " pass " << pass;
      EXPECT_EQ(count_tokens(e, text), expected.size()) << encoding_name(e) << " pass " << pass;
    }
  }
}

TEST(Encode, LongRunsStayFast) {
  std::string letters;
  uint32_t x = 12345;
  for (int i = 0; i < 256 * 1024; ++i) {
    x = x * 1103515245u + 12345u;
    letters.push_back(static_cast<char>('a' + (x >> 16) % 26));
  }
  const std::vector<std::string> inputs = {std::string(256 * 1024, 'a'), letters,
                                           std::string(256 * 1024, ' '), std::string(256 * 1024, '9')};
  for (const auto& in : inputs) {
    for (const Encoding e : {kCl, kO2}) {
      const auto start = std::chrono::steady_clock::now();
      const Ids ids = encode(e, in);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      EXPECT_LT(secs, 3.0) << encoding_name(e) << " took " << secs << " s for " << in.size() << " bytes";
      EXPECT_EQ(decode(e, ids), in);
      EXPECT_LT(ids.size(), in.size());
    }
  }
}

TEST(Encode, RankTablesLoad) {
  EXPECT_EQ(rank_table(kCl).size(), 100256u);
  EXPECT_EQ(rank_table(kO2).size(), 199998u);
  EXPECT_EQ(rank_table(kCl).token(15339), "hello");
  EXPECT_EQ(rank_table(kCl).find("hello"), 15339u);
  EXPECT_EQ(rank_table(kCl).find("<|endoftext|>"), RankTable::kNoRank);
}

TEST(Encoding, Names) {
  EXPECT_EQ(encoding_name(kCl), "cl100k_base");
  EXPECT_EQ(encoding_name(kO2), "o200k_base");
  EXPECT_EQ(encoding_by_name("cl100k_base"), kCl);
  EXPECT_EQ(encoding_by_name("o200k_base"), kO2);
  EXPECT_EQ(encoding_by_name("p50k_base"), std::nullopt);
}

TEST(Encoding, ForModel) {
  for (const char* m : {"gpt-4o", "gpt-4o-mini", "gpt-4o-2024-08-06", "gpt-4.1", "gpt-4.1-nano", "gpt-5",
                        "gpt-5-mini", "o1", "o1-mini", "o3", "o3-mini", "o4-mini", "GPT-4o", "openai/gpt-4o",
                        "chatgpt-4o-latest", "gpt-oss-120b", "my-deployment", ""}) {
    EXPECT_EQ(encoding_for_model(m), kO2) << m;
  }
  for (const char* m :
       {"gpt-4", "gpt-4-turbo", "gpt-4-0613", "gpt-4-32k", "gpt-3.5-turbo", "gpt-35-turbo",
        "text-embedding-ada-002", "text-embedding-3-small", "text-embedding-3-large", "GPT-4"}) {
    EXPECT_EQ(encoding_for_model(m), kCl) << m;
  }
  const std::vector<ModelEncodingRule> rules = {{"my-", kCl}, {"gpt-4-", kO2}};
  EXPECT_EQ(encoding_for_model("my-deployment", rules), kCl);
  EXPECT_EQ(encoding_for_model("gpt-4-turbo", rules), kO2);
  EXPECT_EQ(encoding_for_model("gpt-4", rules), kCl);
}

}  // namespace
}  // namespace spillway::tokenizer
