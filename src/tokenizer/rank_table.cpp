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

// The blob's header; the arrays follow it in this order, each at an 8-byte boundary.
struct BlobHeader {
  char magic[8];
  uint32_t count;  // tokens
  uint32_t slots;  // hash slots, a power of two
  uint32_t max_token_size;
  uint32_t reserved;
  uint64_t arena_size;  // bytes of all tokens
  uint64_t total_size;  // of the blob
};
static_assert(sizeof(BlobHeader) == 40);
constexpr char kBlobMagic[8] = {'S', 'P', 'W', 'R', 'A', 'N', 'K', '1'};

struct BlobLayout {
  std::size_t offsets, slots, filter, byte_ranks, pair_ranks, arena, total;
};

constexpr std::size_t align8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

constexpr std::size_t kBlobFilterWords = std::size_t{1} << 14;  // RankTable::kFilterWords

// Where each array of a blob with `h`'s counts starts (the header's counts are 32-bit, so no overflow).
BlobLayout blob_layout(const BlobHeader& h) {
  BlobLayout l{};
  l.offsets = align8(sizeof(BlobHeader));
  l.slots = align8(l.offsets + (std::size_t{h.count} + 1) * sizeof(uint32_t));
  l.filter = align8(l.slots + std::size_t{h.slots} * sizeof(uint32_t));
  l.byte_ranks = l.filter + kBlobFilterWords * sizeof(uint64_t);
  l.pair_ranks = l.byte_ranks + 256 * sizeof(uint32_t);
  l.arena = l.pair_ranks + 65536 * sizeof(uint32_t);
  l.total = align8(l.arena + static_cast<std::size_t>(h.arena_size));
  return l;
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

  // Lay the tokens out by rank so token(r) is offsets[r]..offsets[r + 1].
  std::string arena;
  std::vector<uint32_t> offsets;
  arena.reserve(bytes.size());
  offsets.reserve(by_rank.size() + 1);
  std::size_t max_token_size = 0;
  for (const Entry& e : by_rank) {
    offsets.push_back(static_cast<uint32_t>(arena.size()));
    arena.append(bytes, e.offset, e.size);
    max_token_size = std::max<std::size_t>(max_token_size, e.size);
  }
  offsets.push_back(static_cast<uint32_t>(arena.size()));
  const auto size_of = [&](uint32_t r) { return std::size_t{offsets[r + 1] - offsets[r]}; };
  const auto bytes_of = [&](uint32_t r) {
    return reinterpret_cast<const unsigned char*>(arena.data() + offsets[r]);
  };

  if (by_rank.size() >= kRankMask) throw std::runtime_error("tiktoken rank data: too many tokens");
  std::size_t capacity = 1;
  while (capacity < by_rank.size() * 2) capacity <<= 1;
  std::vector<uint32_t> slots(capacity, kEmptySlot);
  std::vector<uint64_t> filter(kFilterWords, 0);
  const std::size_t mask = capacity - 1;
  for (uint32_t r = 0; r < by_rank.size(); ++r) {
    const unsigned char* key = bytes_of(r);
    const std::size_t n = size_of(r);
    const uint64_t h = hash(key, n);
    const uint32_t slot = (static_cast<uint32_t>(h >> (64 - kTagBits)) << kRankBits) | r;
    std::size_t i = h & mask;
    for (; slots[i] != kEmptySlot; i = (i + 1) & mask) {
      const uint32_t other = slots[i] & kRankMask;
      if ((slots[i] >> kRankBits) == (slot >> kRankBits) && size_of(other) == n &&
          equal_bytes(bytes_of(other), key, n)) {
        throw std::runtime_error("tiktoken rank data: duplicate token");
      }
    }
    slots[i] = slot;
    filter[filter_word(h)] |= filter_bits(h);
  }
  std::vector<uint32_t> pair_ranks(65536, kNoRank);
  std::vector<uint32_t> byte_ranks(256, kNoRank);
  for (uint32_t r = 0; r < by_rank.size(); ++r) {
    const unsigned char* key = bytes_of(r);
    if (size_of(r) == 1) byte_ranks[key[0]] = r;  // single bytes are unique: no duplicate got this far
    if (size_of(r) != 2) continue;
    uint32_t& slot = pair_ranks[(std::size_t{key[0]} << 8) | key[1]];
    if (slot != kNoRank) throw std::runtime_error("tiktoken rank data: duplicate token");
    slot = r;
  }
  for (const uint32_t rank : byte_ranks) {
    if (rank == kNoRank) throw std::runtime_error("tiktoken rank data: a single byte is not a token");
  }

  // One blob: the header, then each array at an 8-byte boundary (blob_layout()).
  static_assert(kFilterWords == kBlobFilterWords);
  BlobHeader header{};
  std::memcpy(header.magic, kBlobMagic, sizeof header.magic);
  header.count = static_cast<uint32_t>(by_rank.size());
  header.slots = static_cast<uint32_t>(capacity);
  header.max_token_size = static_cast<uint32_t>(max_token_size);
  header.arena_size = arena.size();
  const BlobLayout layout = blob_layout(header);
  header.total_size = layout.total;
  owned_.assign(layout.total / 8, 0);
  auto* base = reinterpret_cast<unsigned char*>(owned_.data());
  std::memcpy(base, &header, sizeof header);
  std::memcpy(base + layout.offsets, offsets.data(), offsets.size() * sizeof(uint32_t));
  std::memcpy(base + layout.slots, slots.data(), slots.size() * sizeof(uint32_t));
  std::memcpy(base + layout.filter, filter.data(), filter.size() * sizeof(uint64_t));
  std::memcpy(base + layout.byte_ranks, byte_ranks.data(), byte_ranks.size() * sizeof(uint32_t));
  std::memcpy(base + layout.pair_ranks, pair_ranks.data(), pair_ranks.size() * sizeof(uint32_t));
  std::memcpy(base + layout.arena, arena.data(), arena.size());
  blob_ = {base, layout.total};
  attach();
}

RankTable RankTable::view(std::span<const unsigned char> blob) {
  RankTable table;
  table.blob_ = blob;
  table.attach();
  return table;
}

void RankTable::attach() {
  const auto bad = [](const char* what) {
    return std::runtime_error(std::string("rank table blob: ") + what);
  };
  if (blob_.size() < sizeof(BlobHeader)) throw bad("too short");
  if (reinterpret_cast<uintptr_t>(blob_.data()) % 8 != 0) throw bad("not 8-byte aligned");
  BlobHeader header;
  std::memcpy(&header, blob_.data(), sizeof header);
  if (std::memcmp(header.magic, kBlobMagic, sizeof header.magic) != 0) throw bad("not a rank table");
  if (header.count == 0 || header.count >= kRankMask) throw bad("bad token count");
  // A power of two with room to spare: a lookup's probe always ends at an empty slot.
  if (header.slots < 2 || (header.slots & (header.slots - 1)) != 0 || header.slots <= header.count) {
    throw bad("bad slot count");
  }
  if (header.arena_size > UINT32_MAX) throw bad("bad arena size");
  const BlobLayout layout = blob_layout(header);
  if (header.total_size != layout.total || blob_.size() != layout.total) throw bad("size mismatch");
  const unsigned char* base = blob_.data();
  offsets_ = {reinterpret_cast<const uint32_t*>(base + layout.offsets), std::size_t{header.count} + 1};
  slots_ = {reinterpret_cast<const uint32_t*>(base + layout.slots), header.slots};
  filter_ = {reinterpret_cast<const uint64_t*>(base + layout.filter), kFilterWords};
  byte_ranks_ = {reinterpret_cast<const uint32_t*>(base + layout.byte_ranks), 256};
  pair_ranks_ = {reinterpret_cast<const uint32_t*>(base + layout.pair_ranks), 65536};
  arena_ = {reinterpret_cast<const char*>(base + layout.arena), static_cast<std::size_t>(header.arena_size)};
  mask_ = header.slots - 1;
  max_token_size_ = header.max_token_size;
  // Every index the lookups follow stays inside the blob.
  if (offsets_[0] != 0 || offsets_[header.count] != header.arena_size) throw bad("bad offsets");
  for (uint32_t r = 0; r < header.count; ++r) {
    if (offsets_[r + 1] < offsets_[r] || offsets_[r + 1] - offsets_[r] > max_token_size_) {
      throw bad("bad offsets");
    }
  }
  // One slot per token, so that (with more slots than tokens) every probe meets an empty one.
  std::size_t used = 0;
  for (const uint32_t slot : slots_) {
    if (slot == kEmptySlot) continue;
    if ((slot & kRankMask) >= header.count) throw bad("bad slot");
    ++used;
  }
  if (used != header.count) throw bad("bad slot count");
  for (const uint32_t rank : byte_ranks_) {
    if (rank >= header.count) throw bad("bad byte rank");
  }
  for (const uint32_t rank : pair_ranks_) {
    if (rank != kNoRank && rank >= header.count) throw bad("bad pair rank");
  }
}

}  // namespace spillway::tokenizer
