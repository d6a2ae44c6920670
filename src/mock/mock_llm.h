#pragma once
// `spillway mock-llm`: a simulated Azure OpenAI / OpenAI backend for tests, demos and benchmarks.
// Runs on its own threads; Beast stays inside mock_llm.cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spillway::mock {

struct MockOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                             // 0 = pick a free port
  std::chrono::milliseconds latency{0};          // before the response headers
  double tokens_per_second = 0;                  // streamed completion pacing; 0 = as fast as possible
  int64_t tpm_capacity = 0;                      // tokens per sliding window; 0 = unlimited
  std::chrono::milliseconds tpm_window{60'000};  // the window of tpm_capacity (a minute, shorter in tests)
  double fail_rate = 0;                          // probability of a 500
  std::string name = "mock";                     // sent back as x-mock-backend
  std::string api_key;                           // when set, required as api-key or Authorization: Bearer
  uint64_t seed = 1;
  int threads = 1;
  std::string ready_file;  // written as {"port":N} once listening
};

// Parses the `mock-llm` arguments (without the subcommand). On error returns nullopt and sets `error`.
std::optional<MockOptions> parse_mock_args(const std::vector<std::string>& args, std::string& error);

class MockLlm {
 public:
  // Binds and starts serving on background threads. Throws std::runtime_error when it cannot bind.
  static std::unique_ptr<MockLlm> start(const MockOptions& options);
  virtual ~MockLlm() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting, closes connections, joins the threads. Idempotent.
  virtual void stop() = 0;
};

// The CLI entry: starts, writes the ready file, blocks until SIGTERM/SIGINT, stops. Returns an exit code.
int run_mock_llm_cli(const std::vector<std::string>& args);

}  // namespace spillway::mock
