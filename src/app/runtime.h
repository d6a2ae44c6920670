#pragma once
// Config -> runtime objects (the only place that sees everything), and the serve loop shared by `serve`
// and `demo`.

#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "proxy/gateway.h"

namespace spillway::app {

// The policy chain and everything else a config snapshot needs.
std::shared_ptr<const proxy::Gateway> build_gateway(config::Config config);

struct ServeOptions {
  std::string ready_file;  // written as {"port":N,"admin_port":M} once listening ("" = none)
  // Called once listening, with the bound ports (the demo prints its examples here).
  std::function<void(uint16_t port, uint16_t admin_port)> on_listening;
};

// Blocks SIGTERM/SIGINT/SIGHUP, serves until SIGTERM or SIGINT, drains, returns the exit code.
// REQUIRES: called from the main thread before any other thread that should not receive those signals.
int serve_gateway(std::shared_ptr<const proxy::Gateway> gateway, const ServeOptions& options);

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and threads it creates afterwards).
void block_stop_signals();

}  // namespace spillway::app
