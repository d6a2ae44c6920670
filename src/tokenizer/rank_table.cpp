#include "tokenizer/rank_table.h"

#include <cstring>
#include <stdexcept>

namespace spillway::tokenizer {
namespace {

struct Base64Table {
  int8_t value[256];
  constexpr Base64Table() : value() {
    for (int c = 0; c < 256; ++c) value[c] = -1;
    for (int c = 'A'; c <= 'Z'; ++c) value[c] = static_cast<int8_t>(c - 'A');
    for (int c = 'a'; c <= 'z'; ++c) value[c] = static_cast<int8_t>(c - 'a' + 26);
    for (int c = '0'; c <= '9'; ++c) value[c] = static_cast<int8_t>(c - '0' + 52);
    value[static_cast<int>('+')] = 62;
    value[static_cast<int>('/')] = 63;
  }
};
constexpr Base64Table kBase64;

int base64_value(unsigned char c) { return kBase64.value[c]; }

// Appends the decoded bytes of `b64` (padded or not) to `out`; false if malformed.
bool base64_decode(std::string_view b64, std::string& out) {
  uint32_t acc = 0;
  int bits = 0;
  for (const char ch : b64) {
    if (ch == '=') break;
    const int v = base64_value(static_cast<unsigned char>(ch));
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

}  // namespace

RankTable::RankTable(std::string_view file) {
  struct Entry {
    uint32_t offset, size;
  };
  std::vector<Entry> by_rank;
  std::vector<bool> seen;
  std::string bytes;
  bytes.reserve(file.size());
  std::size_t line_no = 0;
  while (!file.empty()) {
    ++line_no;
    const std::size_t eol = file.find('\n');
    std::string_view line = file.substr(0, eol);
    file = eol == std::string_view::npos ? std::string_view{} : file.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t sp = line.find(' ');
    const auto bad = [&](const char* what) {
      return std::runtime_error("tiktoken rank data, line " + std::to_string(line_no) + ": " + what);
    };
    if (sp == std::string_view::npos) throw bad("expected `base64 rank`");
    uint64_t rank = 0;
    const std::string_view digits = line.substr(sp + 1);
    if (digits.empty() || digits.size() > 9) throw bad("bad rank");
    for (const char d : digits) {
      if (d < '0' || d > '9') throw bad("bad rank");
      rank = rank * 10 + static_cast<uint64_t>(d - '0');
    }
    const std::size_t offset = bytes.size();
    if (!base64_decode(line.substr(0, sp), bytes) || bytes.size() == offset) throw bad("bad base64 token");
    if (rank >= by_rank.size()) {
      by_rank.resize(rank + 1, Entry{0, 0});
      seen.resize(rank + 1, false);
    }
    if (seen[rank]) throw bad("duplicate rank");
    seen[rank] = true;
    by_rank[rank] = Entry{static_cast<uint32_t>(offset), static_cast<uint32_t>(bytes.size() - offset)};
  }
  for (std::size_t r = 0; r < seen.size(); ++r) {
    if (!seen[r]) throw std::runtime_error("tiktoken rank data: rank " + std::to_string(r) + " missing");
  }
  if (by_rank.empty()) throw std::runtime_error("tiktoken rank data: empty");

  // Lay the tokens out by rank so token(r) is offsets_[r]..offsets_[r + 1].
  arena_.reserve(bytes.size());
  offsets_.reserve(by_rank.size() + 1);
  for (const Entry& e : by_rank) {
    offsets_.push_back(static_cast<uint32_t>(arena_.size()));
    arena_.append(bytes, e.offset, e.size);
    if (e.size > max_token_size_) max_token_size_ = e.size;
  }
  offsets_.push_back(static_cast<uint32_t>(arena_.size()));

  if (by_rank.size() >= kRankMask) throw std::runtime_error("tiktoken rank data: too many tokens");
  std::size_t capacity = 1;
  while (capacity < by_rank.size() * 2) capacity <<= 1;
  slots_.assign(capacity, kEmptySlot);
  mask_ = capacity - 1;
  for (uint32_t r = 0; r < by_rank.size(); ++r) {
    const auto* key = reinterpret_cast<const unsigned char*>(arena_.data() + offsets_[r]);
    const std::size_t n = token_size(r);
    const uint64_t h = hash(key, n);
    const uint32_t slot = (static_cast<uint32_t>(h >> (64 - kTagBits)) << kRankBits) | r;
    std::size_t i = h & mask_;
    for (; slots_[i] != kEmptySlot; i = (i + 1) & mask_) {
      const uint32_t other = slots_[i] & kRankMask;
      if ((slots_[i] >> kRankBits) == (slot >> kRankBits) && token_size(other) == n &&
          equal_bytes(arena_.data() + offsets_[other], key, n)) {
        throw std::runtime_error("tiktoken rank data: duplicate token");
      }
    }
    slots_[i] = slot;
  }
  pair_ranks_.assign(65536, kNoRank);
  for (uint32_t r = 0; r < by_rank.size(); ++r) {
    if (token_size(r) != 2) continue;
    const auto* key = reinterpret_cast<const unsigned char*>(arena_.data() + offsets_[r]);
    uint32_t& slot = pair_ranks_[(std::size_t{key[0]} << 8) | key[1]];
    if (slot != kNoRank) throw std::runtime_error("tiktoken rank data: duplicate token");
    slot = r;
  }
  for (int b = 0; b < 256; ++b) {
    const unsigned char c = static_cast<unsigned char>(b);
    byte_ranks_[b] = find(&c, 1);
    if (byte_ranks_[b] == kNoRank)
      throw std::runtime_error("tiktoken rank data: a single byte is not a token");
  }
}

}  // namespace spillway::tokenizer
