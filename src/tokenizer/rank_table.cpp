#include "tokenizer/rank_table.h"

#include <algorithm>
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

// Decodes `b64` (padded or not) into out[0..); returns the number of bytes, or -1 if malformed.
// REQUIRES: out has room for b64.size() * 3 / 4 bytes.
long base64_decode(std::string_view b64, char* out) {
  uint32_t acc = 0;
  int bits = 0;
  long n = 0;
  for (const char ch : b64) {
    if (ch == '=') break;
    const int v = base64_value(static_cast<unsigned char>(ch));
    if (v < 0) return -1;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return n;
}

}  // namespace

RankTable::RankTable(std::string_view file) {
  struct Entry {
    uint32_t offset = UINT32_MAX, size = 0;
  };
  // Ranks are 0..N-1 for N lines, so the line count sizes everything up front.
  std::size_t lines = static_cast<std::size_t>(std::count(file.begin(), file.end(), '\n'));
  if (!file.empty() && file.back() != '\n') ++lines;
  std::vector<Entry> by_rank(lines);
  std::string bytes;
  bytes.reserve(file.size());
  std::size_t line_no = 0;
  std::size_t count = 0;
  char decoded[1024];
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
    if (sp == std::string_view::npos || sp > 4 * sizeof(decoded) / 3) throw bad("expected `base64 rank`");
    uint64_t rank = 0;
    const std::string_view digits = line.substr(sp + 1);
    if (digits.empty() || digits.size() > 9) throw bad("bad rank");
    for (const char d : digits) {
      if (d < '0' || d > '9') throw bad("bad rank");
      rank = rank * 10 + static_cast<uint64_t>(d - '0');
    }
    if (rank >= by_rank.size()) throw bad("rank out of range");
    if (by_rank[rank].offset != UINT32_MAX) throw bad("duplicate rank");
    const long n = base64_decode(line.substr(0, sp), decoded);
    if (n <= 0) throw bad("bad base64 token");
    by_rank[rank] = Entry{static_cast<uint32_t>(bytes.size()), static_cast<uint32_t>(n)};
    bytes.append(decoded, static_cast<std::size_t>(n));
    ++count;
  }
  if (count == 0) throw std::runtime_error("tiktoken rank data: empty");
  by_rank.resize(count);  // blank lines
  for (std::size_t r = 0; r < by_rank.size(); ++r) {
    if (by_rank[r].offset == UINT32_MAX) {
      throw std::runtime_error("tiktoken rank data: rank " + std::to_string(r) + " missing");
    }
  }

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
  filter_.assign(kFilterWords, 0);
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
    filter_[filter_word(h)] |= filter_bits(h);
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
