// Micro benchmark of the usage log's writer: one transaction of 32, 256 or 1024 typical records (1024: the
// default batch_size) into a SQLite file in the temp dir, the writer thread's whole job per batch. CPU time
// includes the kernel's (WAL writes, checkpoints), so the per-row figure is what a request costs the
// writer thread. The file grows across iterations like a real log does.
// Also the decoding of a request id's hex digits (usage_db.cpp stores gateway ids as their 16 bytes).

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/usage_db.h"
#include "telemetry/usage_record.h"
#include "util/ascii.h"

namespace spillway::telemetry {
namespace {

UsageRecord typical_record(int i) {
  UsageRecord r;
  r.time_ms = 1'780'000'000'000 + i;
  // The gateway's own form: 32 lowercase hex digits (stored as 16 bytes).
  char id[33];
  std::snprintf(id, sizeof id, "0af7651916cd43dd%016llx", 0x8448eb211c800000ULL + static_cast<unsigned>(i));
  r.request_id = id;
  r.api = "openai";
  r.operation = "chat.completions";
  r.pool = "gpt-4o";
  r.deployment = "gpt-4o";
  r.model = "gpt-4o-2024-08-06";
  r.backend = "ptu-eastus";
  r.attempts = 1;
  r.subscription = "team-search";
  r.product = "standard";
  r.tags = {{"team", "search"}, {"cost_center", "cc-1234"}};
  r.user_hash = "3f1c9a0b5d7e2f4a";  // the gateway's form: 16 lowercase hex digits (identity.h)
  r.status = 200;
  r.prompt_tokens = 230 + i % 50;
  r.completion_tokens = 41;
  r.total_tokens = r.prompt_tokens + r.completion_tokens;
  r.usage_source = "backend";
  r.ttft_ms = 0.41;
  r.duration_ms = 0.52;
  return r;
}

void BM_UsageDbInsertBatch(benchmark::State& state) {
  const auto path =
      std::filesystem::temp_directory_path() / ("spillway-bench-usage-" + std::to_string(::getpid()) + ".db");
  std::vector<UsageRecord> batch;
  for (int i = 0; i < state.range(0); ++i) batch.push_back(typical_record(i));
  std::string error;
  {
    UsageDb db(path.string());
    for (auto _ : state) {
      // Later batches carry later times, as in a real log: the index on ts grows at its end. (Repeating the
      // same times would insert into the middle of the index and dirty three times the pages per commit.)
      for (auto& r : batch) r.time_ms += static_cast<int64_t>(batch.size());
      if (!db.insert(batch, error)) {
        state.SkipWithError(error.c_str());
        break;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path.string() + suffix).c_str());
}
BENCHMARK(BM_UsageDbInsertBatch)->Arg(32)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);

// A request id's 32 lowercase hex digits to the 16 bytes the usage log stores (its dispatcher does this per
// row). Random ids, as the gateway makes them. The baseline is what the log did before: lower_hex_digit()
// per digit, whose comparisons and early return branch on every digit.
std::vector<std::string> random_ids() {
  std::mt19937_64 rng(20261206);
  std::vector<std::string> ids(4096);
  for (std::string& id : ids) {
    char b[33];
    std::snprintf(b, sizeof b, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    id = b;
  }
  return ids;
}

bool hex_to_bytes_per_digit_branches(std::string_view id, unsigned char* out) {
  for (std::size_t i = 0; i < id.size() / 2; ++i) {
    const int hi = util::lower_hex_digit(id[2 * i]);
    const int lo = util::lower_hex_digit(id[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

template <bool (*Decode)(std::string_view, unsigned char*)>
void decode_ids(benchmark::State& state) {
  const std::vector<std::string> ids = random_ids();
  unsigned char out[16];
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Decode(ids[i++ % ids.size()], out));
    benchmark::DoNotOptimize(out);
  }
}
void BM_HexToBytesPerDigitBranches(benchmark::State& state) {
  decode_ids<hex_to_bytes_per_digit_branches>(state);
}
void BM_HexToBytes(benchmark::State& state) { decode_ids<util::lower_hex_to_bytes>(state); }
BENCHMARK(BM_HexToBytesPerDigitBranches);
BENCHMARK(BM_HexToBytes);

}  // namespace
}  // namespace spillway::telemetry
