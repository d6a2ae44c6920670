// spillway: the gateway binary and its tools (see `spillway help`).

#include <iostream>
#include <string>
#include <vector>

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

}  // namespace

int main(int argc, char** argv) {
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
                << "\nallocator: " << spillway::util::allocator_name() << "\n";
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
