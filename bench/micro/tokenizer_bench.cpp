// Micro benchmarks of the tokenizer on what a request hands it: the new message of a chat (about 290 bytes of
// English with a ticket number no earlier request carried), counted with o200k_base.
//
// "warm": the same worker counts message after message, so its caches hold the tokenizer's tables.
// "cold": between two counts the benchmark reads 8 MiB of other memory, as a worker serving 64 connections
// does (sockets, buffers, other requests' documents); only the count is timed (manual time). This is the
// case the gateway is in under load, where the tokenizer's time goes to cache misses, not instructions.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tokenizer/count_cache.h"
#include "tokenizer/tokenizer.h"
#include "util/keyed_hash.h"

namespace spillway {
namespace {

std::string message(uint64_t ticket) {
  char number[32];
  std::snprintf(number, sizeof number, "BILL-%09llu", static_cast<unsigned long long>(ticket));
  return std::string("Ticket ") + number +
         ". Which runbook covers flaky integration stages, who is on call for billing this week, and "
         "should I open an incident or just a ticket? Please also list the three checks I should run first, "
         "in order, with the commands, and tell me which dashboards show the integration stage timings.";
}

void count_message(benchmark::State& state, bool cold) {
  const auto e = tokenizer::Encoding::kO200kBase;
  benchmark::DoNotOptimize(tokenizer::count_tokens(e, message(0)));  // loads the rank table
  std::vector<uint64_t> other(cold ? (8u << 20) / sizeof(uint64_t) : 0, 1);
  uint64_t ticket = 100000000, sink = 0;
  for (auto _ : state) {
    const std::string text = message(++ticket);
    for (std::size_t i = 0; i < other.size(); i += 8) sink += other[i]++;  // one read and write per line
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(tokenizer::count_tokens(e, text));
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  benchmark::DoNotOptimize(sink);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message(0).size()));
}

void BM_CountTokens_NewMessage_Warm(benchmark::State& state) { count_message(state, false); }
void BM_CountTokens_NewMessage_Cold(benchmark::State& state) { count_message(state, true); }
BENCHMARK(BM_CountTokens_NewMessage_Warm)->UseManualTime();
BENCHMARK(BM_CountTokens_NewMessage_Cold)->UseManualTime()->Iterations(3000);

// A conversation's history resent with every turn, looked up in the token-count cache: the text is kept and
// compared whole (CountCache). Baseline in the same run: the keyed 128-bit hash of the same bytes, which
// the cache computed on every lookup before it kept texts (and still does for texts over 16 KiB).
std::string history(std::size_t bytes) {
  std::string s;
  for (uint64_t i = 0; s.size() < bytes; ++i) s += message(i) + "\n";
  s.resize(bytes);
  return s;
}

void BM_CountCacheHit_Resent(benchmark::State& state) {
  const std::string text = history(static_cast<std::size_t>(state.range(0)));
  tokenizer::CountCache cache;
  cache.count(1, text, [](std::string_view) { return int64_t{1}; });
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.count(1, text, [](std::string_view) { return int64_t{-1}; }));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_KeyedHash128_Resent(benchmark::State& state) {
  const std::string text = history(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(util::keyed_hash128(text));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_CountCacheHit_Resent)->Arg(650)->Arg(16 * 1024);
BENCHMARK(BM_KeyedHash128_Resent)->Arg(650)->Arg(16 * 1024);

}  // namespace
}  // namespace spillway
