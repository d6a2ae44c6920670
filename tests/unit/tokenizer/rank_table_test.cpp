#include "tokenizer/rank_table.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace spillway::tokenizer {
namespace {

// A complete byte-level table (every single byte, base64-encoded) plus `extra` lines.
std::string byte_table(const std::string& extra = "") {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (int b = 0; b < 256; ++b) {
    out += kAlphabet[b >> 2];
    out += kAlphabet[(b & 3) << 4];
    out += "== " + std::to_string(b) + "\n";
  }
  return out + extra;
}

TEST(RankTable, ParsesATiktokenFile) {
  const RankTable t(byte_table("aGk= 256\naGVsbG8= 257\n"));  // "hi", "hello"
  EXPECT_EQ(t.size(), 258u);
  EXPECT_EQ(t.find("hi"), 256u);
  EXPECT_EQ(t.find("hello"), 257u);
  EXPECT_EQ(t.find("hell"), RankTable::kNoRank);
  EXPECT_EQ(t.find("A"), static_cast<uint32_t>('A'));
  EXPECT_EQ(t.token(257), "hello");
  EXPECT_EQ(t.max_token_size(), 5u);
}

TEST(RankTable, RejectsMalformedData) {
  EXPECT_THROW(RankTable(""), std::runtime_error);
  EXPECT_THROW(RankTable(byte_table("aGk=\n")), std::runtime_error);                    // no rank
  EXPECT_THROW(RankTable(byte_table("a*k= 256\n")), std::runtime_error);                // bad base64
  EXPECT_THROW(RankTable(byte_table("aGk= 25x\n")), std::runtime_error);                // bad rank
  EXPECT_THROW(RankTable(byte_table("aGk= 255\n")), std::runtime_error);                // duplicate rank
  EXPECT_THROW(RankTable(byte_table("aGk= 256\naGk= 257\n")), std::runtime_error);      // duplicate token
  EXPECT_THROW(RankTable(byte_table("aGk= 258\naGVsbG8= 257\n")), std::runtime_error);  // rank 256 missing
  EXPECT_THROW(RankTable("aGk= 0\n"), std::runtime_error);  // single bytes are not tokens
}

}  // namespace
}  // namespace spillway::tokenizer
