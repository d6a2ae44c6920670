#include "tokenizer/tokenizer.h"

#include <array>
#include <cstring>
#include <memory>

#include "tokenizer/bpe.h"
#include "tokenizer/encoding.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/pretokenize_ascii.h"
#include "tokenizer/rank_data.h"
#include "tokenizer/rank_table.h"
#include "tokenizer/utf8.h"

namespace spillway::tokenizer {
namespace {

using NextPiece = std::size_t (*)(const unsigned char*, const unsigned char*);

NextPiece splitter(Encoding e) { return e == Encoding::kCl100kBase ? next_piece_cl100k : next_piece_o200k; }

// A small direct-mapped cache of the BPE results of short pieces that are not tokens themselves (natural
// text repeats its words). One per thread and encoding, allocated on first use; bounded.
class PieceCache {
 public:
  static constexpr std::size_t kMaxPiece = 32;
  static constexpr std::size_t kMaxIds = 14;
  static constexpr std::size_t kEntries = 1024;

  // The cached ids of [p, p + n) (hash h), or nullptr. REQUIRES: n <= kMaxPiece.
  const uint32_t* find(uint64_t h, const unsigned char* p, std::size_t n, std::size_t* count) const {
    const Entry& e = entries_[index(h)];
    if (e.hash != h || e.len != n || !RankTable::equal_bytes(e.bytes, p, n)) return nullptr;
    *count = e.count;
    return e.ids;
  }
  void put(uint64_t h, const unsigned char* p, std::size_t n, const std::vector<uint32_t>& ids) {
    if (n > kMaxPiece || ids.size() > kMaxIds) return;
    Entry& e = entries_[index(h)];
    e.hash = h;
    e.len = static_cast<uint8_t>(n);
    e.count = static_cast<uint8_t>(ids.size());
    std::memcpy(e.bytes, p, n);
    std::memcpy(e.ids, ids.data(), ids.size() * sizeof(uint32_t));
  }

 private:
  struct Entry {
    uint64_t hash = 0;
    uint8_t len = 0xFF;  // matches no piece
    uint8_t count = 0;
    unsigned char bytes[kMaxPiece];
    uint32_t ids[kMaxIds];
  };
  static std::size_t index(uint64_t h) { return (h >> 40) % kEntries; }
  Entry entries_[kEntries];
};

// Ranks of recently seen pieces that are tokens, with their bytes. A lookup in the rank table touches
// three places far apart in several MiB (the slot, the token's offset, its bytes): under load these are
// cache misses, and they were most of the tokenizer's cycles. Text repeats its words, and this table (64
// KiB, one entry per 32-byte slot) stays in the core's cache. Direct-mapped, one per thread and encoding.
class TokenCache {
 public:
  static constexpr std::size_t kMaxPiece = 19;
  static constexpr std::size_t kEntries = 2048;

  // The rank of [p, p + n) (hash h) if cached, else RankTable::kNoRank. REQUIRES: n <= kMaxPiece.
  uint32_t find(uint64_t h, const unsigned char* p, std::size_t n) const {
    const Entry& e = entries_[index(h)];
    return e.len == n && e.hash == h && RankTable::equal_bytes(e.bytes, p, n) ? e.rank : RankTable::kNoRank;
  }
  void put(uint64_t h, const unsigned char* p, std::size_t n, uint32_t rank) {
    Entry& e = entries_[index(h)];
    e.hash = h;
    e.rank = rank;
    e.len = static_cast<uint8_t>(n);
    std::memcpy(e.bytes, p, n);
  }

 private:
  struct Entry {
    uint64_t hash = 0;
    uint32_t rank = RankTable::kNoRank;
    uint8_t len = 0xFF;  // matches no piece
    unsigned char bytes[kMaxPiece];
  };
  static_assert(sizeof(Entry) == 32);
  static std::size_t index(uint64_t h) { return (h >> 48) % kEntries; }
  Entry entries_[kEntries];
};

struct ThreadState {
  std::unique_ptr<PieceCache> cache[2];
  std::unique_ptr<TokenCache> tokens[2];
  std::vector<uint32_t> scratch;
};

ThreadState& thread_state() {
  thread_local ThreadState state;
  return state;
}

// The splitter for text that is all ASCII: the scanners' ASCII fast paths, inlined into the loop below
// (they cut every piece of such text; the general scanner stays behind them all the same).
template <bool kO200k>
struct AsciiSplitter {
  std::size_t operator()(const unsigned char* p, const unsigned char* end) const {
    const std::size_t n = detail::ascii_piece<kO200k>(p, end);
    return n != 0 ? n : (kO200k ? next_piece_o200k : next_piece_cl100k)(p, end);
  }
};

// Calls sink.one(id) / sink.many(ids, n) for the tokens of `text`, cut into pieces by next(p, end).
// REQUIRES: valid UTF-8.
template <class Sink, class Next>
void encode_valid(Encoding e, std::string_view text, Sink& sink, Next next) {
  const RankTable& ranks = rank_table(e);
  ThreadState& ts = thread_state();
  const int which = e == Encoding::kCl100kBase ? 0 : 1;
  if (!ts.cache[which]) ts.cache[which] = std::make_unique<PieceCache>();
  if (!ts.tokens[which]) ts.tokens[which] = std::make_unique<TokenCache>();
  PieceCache& cache = *ts.cache[which];
  TokenCache& tokens = *ts.tokens[which];
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  const std::size_t max_token = ranks.max_token_size();
  while (p < end) {
    const std::size_t n = next(p, end);
    if (n == 1) {  // every byte is a token
      sink.one(ranks.byte_rank(*p));
      p += 1;
      continue;
    }
    if (n <= max_token) {
      // tiktoken's own shortcut: a piece that is a token is that token.
      const RankTable::Key key = ranks.key(p, n);
      const bool cacheable = n > 2 && n <= TokenCache::kMaxPiece;  // two bytes: one table read anyway
      uint32_t whole = cacheable ? tokens.find(key.h, p, n) : RankTable::kNoRank;
      if (whole == RankTable::kNoRank) {
        whole = ranks.find(key);
        if (whole != RankTable::kNoRank && cacheable) tokens.put(key.h, p, n, whole);
      }
      if (whole != RankTable::kNoRank) {
        sink.one(whole);
        p += n;
        continue;
      }
      if (n <= PieceCache::kMaxPiece) {
        std::size_t count;
        if (const uint32_t* ids = cache.find(key.h, p, n, &count)) {
          sink.many(ids, count);
        } else {
          ts.scratch.clear();
          byte_pair_encode(ranks, p, n, &ts.scratch);
          cache.put(key.h, p, n, ts.scratch);
          sink.many(ts.scratch.data(), ts.scratch.size());
        }
        p += n;
        continue;
      }
    }
    sink.bpe(ranks, p, n, ts.scratch);
    p += n;
  }
}

template <class Sink>
void encode_any(Encoding e, std::string_view text, Sink& sink) {
  if (is_ascii(text)) {
    if (e == Encoding::kCl100kBase) {
      encode_valid(e, text, sink, AsciiSplitter<false>{});
    } else {
      encode_valid(e, text, sink, AsciiSplitter<true>{});
    }
  } else if (is_valid_utf8(text)) {
    encode_valid(e, text, sink, splitter(e));
  } else {
    const std::string repaired = to_valid_utf8(text);
    encode_valid(e, repaired, sink, splitter(e));
  }
}

struct IdSink {
  std::vector<uint32_t>* out;
  void one(uint32_t id) { out->push_back(id); }
  void many(const uint32_t* ids, std::size_t n) { out->insert(out->end(), ids, ids + n); }
  void bpe(const RankTable& ranks, const unsigned char* p, std::size_t n, std::vector<uint32_t>&) {
    byte_pair_encode(ranks, p, n, out);
  }
};

struct CountSink {
  std::size_t count = 0;
  void one(uint32_t) { ++count; }
  void many(const uint32_t*, std::size_t n) { count += n; }
  void bpe(const RankTable& ranks, const unsigned char* p, std::size_t n, std::vector<uint32_t>& scratch) {
    scratch.clear();
    byte_pair_encode(ranks, p, n, &scratch);
    count += scratch.size();
    if (scratch.capacity() > (1u << 20)) std::vector<uint32_t>().swap(scratch);
  }
};

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (ascii_lower(s[i]) != ascii_lower(prefix[i])) return false;
  }
  return true;
}

struct BuiltinRule {
  std::string_view prefix;
  Encoding encoding;
};

// First match wins: the gpt-4o family before gpt-4. Follows tiktoken's model table.
constexpr std::array kBuiltinRules = {
    BuiltinRule{"gpt-4o", Encoding::kO200kBase},
    BuiltinRule{"gpt-4.1", Encoding::kO200kBase},
    BuiltinRule{"gpt-4.5", Encoding::kO200kBase},
    BuiltinRule{"gpt-5", Encoding::kO200kBase},
    BuiltinRule{"gpt-oss", Encoding::kO200kBase},
    BuiltinRule{"chatgpt-4o", Encoding::kO200kBase},
    BuiltinRule{"o1", Encoding::kO200kBase},
    BuiltinRule{"o3", Encoding::kO200kBase},
    BuiltinRule{"o4", Encoding::kO200kBase},
    BuiltinRule{"codex-", Encoding::kO200kBase},
    BuiltinRule{"gpt-4", Encoding::kCl100kBase},
    BuiltinRule{"gpt-3.5", Encoding::kCl100kBase},
    BuiltinRule{"gpt-35", Encoding::kCl100kBase},  // Azure's spelling
    BuiltinRule{"text-embedding-ada-002", Encoding::kCl100kBase},
    BuiltinRule{"text-embedding-3", Encoding::kCl100kBase},
    BuiltinRule{"davinci-002", Encoding::kCl100kBase},
    BuiltinRule{"babbage-002", Encoding::kCl100kBase},
};

std::string_view model_base_name(std::string_view model) {
  const std::size_t slash = model.rfind('/');
  return slash == std::string_view::npos ? model : model.substr(slash + 1);
}

}  // namespace

std::string_view encoding_name(Encoding e) {
  return e == Encoding::kCl100kBase ? "cl100k_base" : "o200k_base";
}

std::optional<Encoding> encoding_by_name(std::string_view name) {
  if (name == "cl100k_base") return Encoding::kCl100kBase;
  if (name == "o200k_base") return Encoding::kO200kBase;
  return std::nullopt;
}

Encoding encoding_for_model(std::string_view model, std::span<const ModelEncodingRule> rules) {
  const std::string_view base = model_base_name(model);
  for (const ModelEncodingRule& r : rules) {
    if (starts_with_nocase(base, r.prefix)) return r.encoding;
  }
  for (const BuiltinRule& r : kBuiltinRules) {
    if (starts_with_nocase(base, r.prefix)) return r.encoding;
  }
  return Encoding::kO200kBase;
}

Encoding encoding_for_model(std::string_view model) { return encoding_for_model(model, {}); }

namespace {

// The embedded blob is the table: nothing is parsed. The view's bounds checks read its index arrays once
// (4-6 ms for o200k_base); its pages are the binary's own, read in from the file. A blob this build
// made passes those checks; one that did not would make rank_table() throw std::runtime_error with why.
RankTable load_rank_table(Encoding e) { return RankTable::view(embedded_rank_blob(e)); }

}  // namespace

const RankTable& rank_table(Encoding e) {
  if (e == Encoding::kCl100kBase) {
    static const RankTable cl100k = load_rank_table(Encoding::kCl100kBase);
    return cl100k;
  }
  static const RankTable o200k = load_rank_table(Encoding::kO200kBase);
  return o200k;
}

void encode_into(Encoding e, std::string_view text, std::vector<uint32_t>* out) {
  IdSink sink{out};
  encode_any(e, text, sink);
}

std::vector<uint32_t> encode(Encoding e, std::string_view text) {
  std::vector<uint32_t> ids;
  ids.reserve(text.size() / 4 + 4);
  encode_into(e, text, &ids);
  return ids;
}

std::size_t count_tokens(Encoding e, std::string_view text) {
  CountSink sink;
  encode_any(e, text, sink);
  return sink.count;
}

std::string decode(Encoding e, std::span<const uint32_t> ids) {
  const RankTable& ranks = rank_table(e);
  std::string out;
  for (const uint32_t id : ids) {
    if (id < ranks.size()) out.append(ranks.token(id));
  }
  return out;
}

}  // namespace spillway::tokenizer
