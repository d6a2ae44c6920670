#include "tokenizer/tokenizer.h"

#include <array>

#include "tokenizer/bpe.h"
#include "tokenizer/encoding.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/rank_data.h"
#include "tokenizer/rank_table.h"
#include "tokenizer/utf8.h"

namespace spillway::tokenizer {
namespace {

using NextPiece = std::size_t (*)(const unsigned char*, const unsigned char*);

NextPiece splitter(Encoding e) { return e == Encoding::kCl100kBase ? next_piece_cl100k : next_piece_o200k; }

// Calls emit(rank) for every token of `text`, or add(n) with a number of tokens when only counting.
template <class Sink>
void encode_valid(Encoding e, std::string_view text, Sink& sink) {
  const RankTable& ranks = rank_table(e);
  const NextPiece next = splitter(e);
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  const std::size_t max_token = ranks.max_token_size();
  while (p < end) {
    const std::size_t n = next(p, end);
    // tiktoken's own shortcut: a piece that is a token is that token.
    const uint32_t whole = n <= max_token ? ranks.find(p, n) : RankTable::kNoRank;
    if (whole != RankTable::kNoRank) {
      sink.one(whole);
    } else {
      sink.bpe(ranks, p, n);
    }
    p += n;
  }
}

template <class Sink>
void encode_any(Encoding e, std::string_view text, Sink& sink) {
  if (is_valid_utf8(text)) {
    encode_valid(e, text, sink);
  } else {
    const std::string repaired = to_valid_utf8(text);
    encode_valid(e, repaired, sink);
  }
}

struct IdSink {
  std::vector<uint32_t>* out;
  void one(uint32_t id) { out->push_back(id); }
  void bpe(const RankTable& ranks, const unsigned char* p, std::size_t n) {
    byte_pair_encode(ranks, p, n, out);
  }
};

struct CountSink {
  std::size_t count = 0;
  std::vector<uint32_t> scratch;
  void one(uint32_t) { ++count; }
  void bpe(const RankTable& ranks, const unsigned char* p, std::size_t n) {
    scratch.clear();
    byte_pair_encode(ranks, p, n, &scratch);
    count += scratch.size();
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

const RankTable& rank_table(Encoding e) {
  if (e == Encoding::kCl100kBase) {
    static const RankTable cl100k(embedded_rank_file(Encoding::kCl100kBase));
    return cl100k;
  }
  static const RankTable o200k(embedded_rank_file(Encoding::kO200kBase));
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
  thread_local CountSink sink;
  sink.count = 0;
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
