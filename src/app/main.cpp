// spillway: the gateway binary and its tools (see `spillway help`).

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#ifdef SPILLWAY_MIMALLOC
#include <mimalloc.h>

#include "util/mimalloc_release.h"
#endif

#include "app/commands.h"
#include "app/tokens_command.h"
#include "app/usage_command.h"
#include "mock/mock_llm.h"
#include "util/allocator.h"

namespace {

constexpr const char* kUsage = R"(usage: spillway <command> [options]

commands:
  serve --config FILE [--ready-file F] [--log-level L]   run the gateway
  check --config FILE                                    validate a config, print every problem
  demo [--listen HOST:PORT]                              the gateway on simulated backends, embedded config
  mock-llm --listen HOST:PORT [options]                  a simulated Azure OpenAI / OpenAI backend
  usage top|series --by DIM [--since 24h] [--json] ...   answers from the usage log (usage help)
  tokens count|estimate [--encoding E] [--ids]           the tokenizer: count stdin's tokens (tokens --help)
  version                                                print the version
)";

// mimalloc returns a span of free pages to the kernel (madvise MADV_DONTNEED) once it has stayed unused for
// `decommit_delay`, 25 ms by default. The usage records a worker allocates are freed in batches by the
// usage-log writer, some 25-50 ms later at one connection: so the same 768 KiB was returned and faulted
// back in several times a second, on the worker, 0.3 ms for the madvise and as much again for the page
// faults of the requests that touched it next (perf trace; one-connection p99 226/235/211/216 against
// 417/245/228/262 us, bench/RESULTS.md). Free memory now goes back after a second unused, when the thread
// takes a new page from the same segment, or at the thread's next util::release_thread_free_memory() (every
// 10 s on the workers and the usage writer). MIMALLOC_DECOMMIT_DELAY still overrides.
constexpr long kDecommitDelayMs = 1000;

void tune_allocator() {
#ifdef SPILLWAY_MIMALLOC
  if (std::getenv("MIMALLOC_DECOMMIT_DELAY") == nullptr)
    mi_option_set(mi_option_decommit_delay, kDecommitDelayMs);
  // What that delay leaves behind: a worker's memory never went back after a burst (util/allocator.h).
  spillway::util::set_free_memory_releaser(&spillway::util::mimalloc_release_thread_free_memory);
#endif
}

std::string allocator_description() {
  std::string name = spillway::util::allocator_name();
#ifdef SPILLWAY_MIMALLOC
  if (name.rfind("mimalloc", 0) == 0)
    name += ", decommit delay " + std::to_string(mi_option_get(mi_option_decommit_delay)) + " ms";
#endif
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "serve") return spillway::app::run_serve(args);
    if (command == "check") return spillway::app::run_check(args);
    if (command == "demo") return spillway::app::run_demo(args);
    if (command == "mock-llm") return spillway::mock::run_mock_llm_cli(args);
    if (command == "usage") return spillway::app::run_usage(args);
    if (command == "tokens") return spillway::app::run_tokens(args);
    if (command == "version" || command == "--version") {
      std::cout << "spillway " << SPILLWAY_VERSION << "\nbuild: " << SPILLWAY_BUILD
                << "\nallocator: " << allocator_description() << "\n";
      return 0;
    }
    if (command == "help" || command == "--help" || command == "-h") {
      std::cout << kUsage;
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "spillway " << command << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "spillway: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
