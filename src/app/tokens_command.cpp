#include "app/tokens_command.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "tokenizer/encoding.h"
#include "tokenizer/tokenizer.h"

namespace spillway::app {
namespace {

constexpr const char* kTokensUsage = R"(usage:
  spillway tokens count [--encoding cl100k_base|o200k_base | --model MODEL] [--ids] [--stats] [--repeat N]
      reads stdin, prints its number of tokens (--ids: the token ids, space-separated; --stats: bytes,
      tokens and encode time as JSON on stderr; --repeat: encode N times, mb_per_second from the fastest)
  spillway tokens estimate --operation chat.completions|completions|embeddings|responses
                           [--encoding E | --model MODEL]
      reads a request body on stdin, prints its prompt tokens as the gateway estimates them
The default encoding is the model's (--model), else o200k_base. Special-token text is plain text.
)";

bool read_stdin(std::string* out) {
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n > 0) {
      out->append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return true;
    } else if (errno != EINTR) {
      return false;
    }
  }
}

struct TokensArgs {
  std::string mode;
  tokenizer::Encoding encoding = tokenizer::Encoding::kO200kBase;
  bool ids = false;
  bool stats = false;
  int repeat = 1;
  std::string operation;
};

std::optional<TokensArgs> parse(const std::vector<std::string>& args) {
  TokensArgs out;
  if (args.empty() || (args[0] != "count" && args[0] != "estimate")) {
    std::cerr << kTokensUsage;
    return std::nullopt;
  }
  out.mode = args[0];
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto value = [&]() -> const std::string* {
      if (i + 1 >= args.size()) {
        std::cerr << "spillway tokens: " << a << " needs a value\n";
        return nullptr;
      }
      return &args[++i];
    };
    if (a == "--encoding") {
      const std::string* v = value();
      if (!v) return std::nullopt;
      const auto e = tokenizer::encoding_by_name(*v);
      if (!e) {
        std::cerr << "spillway tokens: unknown encoding '" << *v << "' (cl100k_base or o200k_base)\n";
        return std::nullopt;
      }
      out.encoding = *e;
    } else if (a == "--model") {
      const std::string* v = value();
      if (!v) return std::nullopt;
      out.encoding = tokenizer::encoding_for_model(*v);
    } else if (a == "--operation" && out.mode == "estimate") {
      const std::string* v = value();
      if (!v) return std::nullopt;
      out.operation = *v;
    } else if (a == "--ids" && out.mode == "count") {
      out.ids = true;
    } else if (a == "--stats" && out.mode == "count") {
      out.stats = true;
    } else if (a == "--repeat" && out.mode == "count") {
      const std::string* v = value();
      if (!v) return std::nullopt;
      const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out.repeat);
      if (ec != std::errc{} || ptr != v->data() + v->size() || out.repeat < 1) {
        std::cerr << "spillway tokens: --repeat needs a positive number\n";
        return std::nullopt;
      }
    } else if (a == "--help" || a == "-h") {
      std::cout << kTokensUsage;
      return std::nullopt;
    } else {
      std::cerr << "spillway tokens: unknown argument '" << a << "'\n" << kTokensUsage;
      return std::nullopt;
    }
  }
  if (out.mode == "estimate" && out.operation.empty()) {
    std::cerr << "spillway tokens estimate: --operation is required\n";
    return std::nullopt;
  }
  return out;
}

int run_count(const TokensArgs& args, const std::string& input) {
  // Load the rank table first so that --stats times encoding alone.
  const auto load_start = std::chrono::steady_clock::now();
  tokenizer::rank_table(args.encoding);
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint32_t> ids;
  std::size_t count = 0;
  double best = 0;
  for (int r = 0; r < args.repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    if (args.ids) {
      ids.clear();
      tokenizer::encode_into(args.encoding, input, &ids);
      count = ids.size();
    } else {
      count = tokenizer::count_tokens(args.encoding, input);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r == 0 || secs < best) best = secs;
  }
  const auto stop = std::chrono::steady_clock::now();
  if (args.ids) {
    std::string line;
    line.reserve(ids.size() * 7);
    char buf[16];
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i) line.push_back(' ');
      const auto res = std::to_chars(buf, buf + sizeof buf, ids[i]);
      line.append(buf, res.ptr);
    }
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
  } else {
    std::printf("%zu\n", count);
  }
  if (args.stats) {
    const double load_s = std::chrono::duration<double>(start - load_start).count();
    const double total = std::chrono::duration<double>(stop - start).count();
    std::fprintf(stderr,
                 "{\"encoding\":\"%s\",\"bytes\":%zu,\"tokens\":%zu,\"repeat\":%d,\"load_seconds\":%.6f,"
                 "\"encode_seconds\":%.6f,\"best_seconds\":%.6f,\"mb_per_second\":%.3f}\n",
                 std::string(tokenizer::encoding_name(args.encoding)).c_str(), input.size(), count,
                 args.repeat, load_s, total, best,
                 best > 0 ? static_cast<double>(input.size()) / best / 1e6 : 0.0);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int run_tokens(const std::vector<std::string>& args) {
  const auto parsed = parse(args);
  if (!parsed) {
    const bool help = !args.empty() && (args.back() == "--help" || args.back() == "-h");
    return help ? 0 : 2;
  }
  std::string input;
  if (!read_stdin(&input)) {
    std::cerr << "spillway tokens: cannot read stdin\n";
    return 1;
  }
  if (parsed->mode == "count") return run_count(*parsed, input);
  std::printf("%lld\n", static_cast<long long>(
                            tokenizer::estimate_prompt_tokens(parsed->encoding, parsed->operation, input)));
  return 0;
}

}  // namespace spillway::app
