#include "tokenizer/rank_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

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

// The blob a parsed table serializes to, copied into 8-byte aligned memory as the embedded ones are.
std::vector<uint64_t> blob_of(const RankTable& t) {
  const auto blob = t.serialize();
  std::vector<uint64_t> words((blob.size() + 7) / 8);
  std::memcpy(words.data(), blob.data(), blob.size());
  return words;
}
std::span<const unsigned char> bytes_of(const std::vector<uint64_t>& words, std::size_t size) {
  return {reinterpret_cast<const unsigned char*>(words.data()), size};
}

TEST(RankTable, AViewOfItsBlobAnswersLikeTheParsedTable) {
  const RankTable parsed(byte_table("aGk= 256\naGVsbG8= 257\nIHdvcmxk 258\n"));  // "hi", "hello", " world"
  const std::vector<uint64_t> words = blob_of(parsed);
  const RankTable view = RankTable::view(bytes_of(words, parsed.serialize().size()));
  EXPECT_EQ(view.size(), parsed.size());
  EXPECT_EQ(view.max_token_size(), parsed.max_token_size());
  for (const char* s : {"hi", "hello", " world", "hell", "A", "\xff", "wor", "xyz"}) {
    EXPECT_EQ(view.find(s), parsed.find(s)) << s;
  }
  for (uint32_t r = 0; r < parsed.size(); ++r) EXPECT_EQ(view.token(r), parsed.token(r));
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(view.byte_rank(static_cast<unsigned char>(b)), static_cast<uint32_t>(b));
  }
  // A moved table keeps answering from the same bytes.
  RankTable moved = RankTable::view(bytes_of(words, parsed.serialize().size()));
  const RankTable again(std::move(moved));
  EXPECT_EQ(again.find("hello"), 257u);
}

TEST(RankTable, AViewRejectsBytesThatAreNotATablesBlob) {
  const RankTable parsed(byte_table("aGk= 256\n"));
  const std::size_t size = parsed.serialize().size();
  std::vector<uint64_t> words = blob_of(parsed);
  EXPECT_NO_THROW(RankTable::view(bytes_of(words, size)));
  EXPECT_THROW(RankTable::view(bytes_of(words, size - 8)), std::runtime_error);  // truncated
  EXPECT_THROW(RankTable::view(bytes_of(words, 16)), std::runtime_error);        // shorter than its header
  // Not 8-byte aligned.
  std::vector<unsigned char> shifted(size + 1);
  std::memcpy(shifted.data() + 1, words.data(), size);
  EXPECT_THROW(RankTable::view({shifted.data() + 1, size}), std::runtime_error);

  std::vector<uint64_t> bad_magic = words;
  reinterpret_cast<unsigned char*>(bad_magic.data())[0] ^= 1;
  EXPECT_THROW(RankTable::view(bytes_of(bad_magic, size)), std::runtime_error);

  // The hash slots, in a copy of the blob. (The layout: a 40-byte header, the size() + 1 offsets, then the
  // slots, each at an 8-byte boundary; 1024 slots, the smallest power of two >= twice the 257 tokens.)
  constexpr std::size_t kSlots = 1024;
  const std::size_t slots_at = 40 + ((parsed.size() + 1) * 4 + 7) / 8 * 8;
  const auto slots_of = [&](std::vector<uint64_t>& blob) {
    unsigned char* const bytes = reinterpret_cast<unsigned char*>(blob.data());
    return std::span<uint32_t>(reinterpret_cast<uint32_t*>(bytes + slots_at), kSlots);
  };

  // A slot naming a rank past the end would send a lookup outside the table.
  std::vector<uint64_t> bad_slot = words;
  for (uint32_t& slot : slots_of(bad_slot)) {
    if (slot == UINT32_MAX) continue;
    slot = (slot & ~((1u << 18) - 1)) | 0x3FFFE;  // rank 262142
    break;
  }
  EXPECT_THROW(RankTable::view(bytes_of(bad_slot, size)), std::runtime_error);

  // With no empty slot a failed lookup would probe forever: every slot must hold one token, once.
  std::vector<uint64_t> full = words;
  for (uint32_t& slot : slots_of(full)) {
    if (slot == UINT32_MAX) slot = 0;  // rank 0 again
  }
  EXPECT_THROW(RankTable::view(bytes_of(full, size)), std::runtime_error);

  // The unchanged copy still passes: the two failures above are the edits'.
  EXPECT_NO_THROW(RankTable::view(bytes_of(words, size)));
}

}  // namespace
}  // namespace spillway::tokenizer
