// `spillway mock-llm ...`: runs a MockLlm in the foreground until SIGTERM or SIGINT.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <system_error>

#include "mock/mock_llm.h"

namespace spillway::mock {
namespace {

constexpr const char* kUsage =
    "usage: spillway mock-llm [--listen HOST:PORT] [--latency DURATION] [--tokens-per-second N]\n"
    "                         [--tpm-capacity N] [--tpm-window D] [--fail-rate P] [--name NAME] [--api-key "
    "KEY]\n"
    "                         [--seed N] [--threads N] [--ready-file PATH]\n"
    "  --listen HOST:PORT       address to listen on; port 0 picks a free port (default 127.0.0.1:0)\n"
    "  --latency DURATION       delay before response headers: 20ms, 1s, 500us; a bare number is ms\n"
    "  --tokens-per-second N    streamed token pacing; 0 = as fast as possible\n"
    "  --tpm-capacity N         tokens per sliding minute before answering 429; 0 = unlimited\n"
    "  --tpm-window DURATION    the sliding window of --tpm-capacity (default 60s)\n"
    "  --fail-rate P            probability (0..1) of answering 500\n"
    "  --name NAME              sent back in the x-mock-backend header (default mock)\n"
    "  --api-key KEY            require this key (api-key header or Authorization: Bearer)\n"
    "  --seed N                 seed of the fail-rate dice (default 1)\n"
    "  --threads N              worker threads (default 1)\n"
    "  --ready-file PATH        once listening, write {\"port\":N} to PATH (atomically)\n";

// Writes {"port":N} to PATH.tmp, then renames it to PATH, so a reader never sees a partial file.
bool write_ready_file(const std::string& path, uint16_t port, std::string& error) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "{\"port\":" << port << "}\n";
    out.close();
    if (!out) {
      error = "cannot write " + tmp;
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::generic_category().message(errno);
    return false;
  }
  return true;
}

}  // namespace

int run_mock_llm_cli(const std::vector<std::string>& args) {
  std::string error;
  const auto options = parse_mock_args(args, error);
  if (!options) {
    std::fprintf(stderr, "spillway mock-llm: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  // The signal handlers are in place before anyone can learn the port and send a signal.
  boost::asio::io_context ioc{1};
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int) {});

  std::unique_ptr<MockLlm> mock;
  try {
    mock = MockLlm::start(*options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spillway mock-llm: %s\n", e.what());
    return 1;
  }
  if (!options->ready_file.empty() && !write_ready_file(options->ready_file, mock->port(), error)) {
    std::fprintf(stderr, "spillway mock-llm: %s\n", error.c_str());
    mock->stop();
    return 1;
  }
  std::fprintf(stderr, "mock-llm listening on %s:%u\n", options->host.c_str(), unsigned{mock->port()});
  std::fflush(stderr);
  ioc.run();
  mock->stop();
  return 0;
}

}  // namespace spillway::mock
