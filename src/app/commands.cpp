#include "app/commands.h"

#include <cstdio>
#include <iostream>
#include <optional>

#include "app/runtime.h"
#include "config/loader.h"
#include "util/log.h"

namespace spillway::app {
namespace {

struct ConfigArgs {
  std::string config;
  std::string ready_file;
};

// Parses `--config FILE [--ready-file F] [--log-level L]`; prints the problem and returns nullopt on error.
std::optional<ConfigArgs> parse_config_args(const std::vector<std::string>& args, std::string_view command,
                                            bool allow_ready_file) {
  ConfigArgs out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) {
        std::cerr << "spillway " << command << ": " << a << " needs a value\n";
        return std::nullopt;
      }
      return args[++i];
    };
    if (a == "--config" || a == "-c") {
      auto v = value();
      if (!v) return std::nullopt;
      out.config = *v;
    } else if (allow_ready_file && a == "--ready-file") {
      auto v = value();
      if (!v) return std::nullopt;
      out.ready_file = *v;
    } else if (a == "--log-level") {
      auto v = value();
      if (!v) return std::nullopt;
      util::LogLevel level;
      if (!util::parse_log_level(*v, level)) {
        std::cerr << "spillway " << command << ": --log-level must be debug, info, warn or error\n";
        return std::nullopt;
      }
      util::set_log_level(level);
    } else {
      std::cerr << "spillway " << command << ": unknown argument '" << a << "'\n";
      return std::nullopt;
    }
  }
  if (out.config.empty()) {
    std::cerr << "spillway " << command << ": --config FILE is required\n";
    return std::nullopt;
  }
  return out;
}

void print_errors(const config::LoadResult& result, const std::string& file) {
  for (const auto& e : result.errors) {
    std::cerr << file << ": " << (e.path.empty() ? std::string("(document)") : e.path) << ": " << e.message
              << "\n";
  }
}

}  // namespace

int run_check(const std::vector<std::string>& args) {
  auto parsed = parse_config_args(args, "check", false);
  if (!parsed) return 2;
  const auto result = config::load_config_file(parsed->config, config::process_env());
  for (const auto& w : result.warnings) std::cerr << parsed->config << ": warning: " << w << "\n";
  if (!result.config) {
    print_errors(result, parsed->config);
    std::cerr << result.errors.size() << " problem" << (result.errors.size() == 1 ? "" : "s") << " found\n";
    return 1;
  }
  std::cout << parsed->config << ": ok (" << result.config->backends.size() << " backends, "
            << result.config->pools.size() << " pools, " << result.config->apis.size() << " apis, "
            << result.config->subscriptions.size() << " subscriptions)\n";
  return 0;
}

int run_serve(const std::vector<std::string>& args) {
  auto parsed = parse_config_args(args, "serve", true);
  if (!parsed) return 2;
  auto result = config::load_config_file(parsed->config, config::process_env());
  for (const auto& w : result.warnings) util::log_warn(w);
  if (!result.config) {
    print_errors(result, parsed->config);
    return 1;
  }
  return serve_gateway(build_gateway(std::move(*result.config)),
                       ServeOptions{.ready_file = parsed->ready_file});
}

}  // namespace spillway::app
