#include "app/runtime.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include "app/admin_handler.h"
#include "auth/authenticate_policy.h"
#include "auth/backend_credential.h"
#include "http/server.h"
#include "limits/request_limit_policy.h"
#include "limits/token_limit_policy.h"
#include "proxy/proxy_handler.h"
#include "state/memory_store.h"
#include "telemetry/headers_policy.h"
#include "telemetry/identity_policy.h"
#include "telemetry/metrics.h"
#include "telemetry/metrics_backend_state.h"
#include "telemetry/token_metrics_policy.h"
#include "telemetry/usage_log_setup.h"
#include "util/allocator.h"
#include "util/clock.h"
#include "util/log.h"

namespace spillway::app {
namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

bool write_ready_file(const std::string& path, uint16_t port, uint16_t admin_port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "{\"port\":" << port << ",\"admin_port\":" << admin_port << "}\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// The metrics of the process. They outlive config snapshots: exported counters never go back.
telemetry::MetricsRegistry& process_metrics() {
  static telemetry::MetricsRegistry registry;
  return registry;
}

}  // namespace

void block_stop_signals() {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::shared_ptr<const proxy::Gateway> build_gateway(config::Config config) {
  // The policies keep references into the config, so the config is placed first and never moves.
  auto gateway = std::make_shared<proxy::Gateway>(proxy::Gateway{std::move(config), pipeline::Chain({})});
  std::vector<std::unique_ptr<pipeline::Policy>> policies;
  telemetry::MetricsRegistry& metrics = process_metrics();
  // First, so that its on_complete runs last and for every routed request, rejected ones included.
  policies.push_back(
      std::make_unique<telemetry::RequestMetricsPolicy>(metrics, gateway->config.policies.token_metrics));
  policies.push_back(std::make_unique<auth::AuthenticatePolicy>(gateway->config.subscriptions));
  policies.push_back(std::make_unique<telemetry::IdentityPolicy>(gateway->config.identity));
  {
    // limits: request limit, then token limit, on one store (state.store is "memory" until Redis exists).
    const config::Config& cfg = gateway->config;
    auto store = std::make_shared<state::MemoryStore>();
    // Asked twice per request; minute windows need no finer time than the kernel's tick.
    const util::Clock& clock = util::CoarseClock::instance();
    auto request_limit =
        std::make_unique<limits::RequestLimitPolicy>(cfg.subscriptions, cfg.products, store, clock);
    if (request_limit->active()) policies.push_back(std::move(request_limit));
    // Large bodies' prompt estimates are counted off the workers (its thread starts with the first);
    // the counts still queued finish after the workers have stopped, before their event loops go.
    auto offload = std::make_shared<limits::EstimateOffload>();
    auto token_limit = std::make_unique<limits::TokenLimitPolicy>(
        cfg.subscriptions, cfg.products, store, clock, limits::default_prompt_estimator(), offload);
    if (token_limit->active()) {
      policies.push_back(std::move(token_limit));
      gateway->on_shutdown.push_back([offload] { offload->finish(); });
    }
  }
  if (gateway->config.policies.headers) {
    policies.push_back(std::make_unique<telemetry::HeadersPolicy>(*gateway->config.policies.headers));
  }
  // The usage log comes after the policies whose decisions it records.
  if (auto usage = telemetry::make_usage_log(gateway->config, util::SystemClock::instance(), &metrics);
      usage.policy) {
    policies.push_back(std::move(usage.policy));
    gateway->on_shutdown.push_back(std::move(usage.stop));
  }
  // Last, so that its on_complete runs first (it also publishes the tool names for the others).
  policies.push_back(
      std::make_unique<telemetry::TokenMetricsPolicy>(metrics, gateway->config.policies.token_metrics));
  gateway->chain = pipeline::Chain(std::move(policies));
  for (const auto& [name, pool] : gateway->config.pools) {
    gateway->routers.emplace(name,
                             std::make_unique<routing::PoolRouter>(pool, util::CoarseClock::instance()));
  }
  telemetry::register_backend_state(metrics, [weak = std::weak_ptr<const proxy::Gateway>(gateway)] {
    std::vector<telemetry::BackendMemberState> members;
    if (auto g = weak.lock()) {
      for (const auto& [pool, router] : g->routers) {
        for (const routing::MemberHealth& m : router->health()) {
          members.push_back({m.backend, std::string(routing::member_state_name(m.state))});
        }
      }
    }
    return members;
  });
  for (const auto& [name, backend] : gateway->config.backends) {
    gateway->credentials.emplace(name, auth::make_backend_credential(backend));
  }
  return gateway;
}

int serve_gateway(std::shared_ptr<const proxy::Gateway> gateway, const ServeOptions& options) {
  block_stop_signals();
  const config::ServerSettings& server_cfg = gateway->config.server;
  std::size_t workers = server_cfg.workers > 0 ? static_cast<std::size_t>(server_cfg.workers)
                                               : std::max(1u, std::thread::hardware_concurrency());
  http::ServerLimits limits;
  limits.max_body = server_cfg.max_body;
  limits.client_idle = server_cfg.timeouts.client_idle;
  limits.shortest_read_timeout =
      std::min({server_cfg.timeouts.first_byte, server_cfg.timeouts.idle, server_cfg.timeouts.total});
  http::Server server(workers, limits);
  try {
    server.add_listener(
        {.name = "gateway",
         .host = server_cfg.listen_host,
         .port = server_cfg.listen_port,
         .make_handler = [gateway](std::size_t) { return std::make_unique<proxy::ProxyHandler>(gateway); },
         .all_workers = true});
    if (server_cfg.admin_enabled) {
      server.add_listener({.name = "admin",
                           .host = server_cfg.admin_host,
                           .port = server_cfg.admin_port,
                           .make_handler =
                               [&server](std::size_t) {
                                 return std::make_unique<AdminHandler>(
                                     [&server] { return server.draining(); }, &process_metrics());
                               },
                           .all_workers = false});
    }
  } catch (const std::exception& e) {
    util::log_error(e.what());
    return 1;
  }
  process_metrics().gauge(
      telemetry::FamilyOptions{
          .name = "spillway_open_connections",
          .help = "Client connections open on each worker (gateway and admin listeners).",
          .labels = {"worker"}},
      [counts = server.connection_counts()] {
        std::vector<telemetry::GaugeSample> samples;
        const std::vector<std::size_t> open = counts();
        for (std::size_t i = 0; i < open.size(); ++i) {
          samples.push_back({{std::to_string(i)}, static_cast<double>(open[i])});
        }
        return samples;
      });
  // The workers hand their access-log lines to a thread of their own (util/log.h); it writes the last of
  // them when this goes out of scope, after server.shutdown() has ended the workers.
  const util::AccessLogThread access_log_thread;
  server.start();
  const uint16_t port = server.bound_port("gateway");
  const uint16_t admin_port = server.bound_port("admin");
  util::log_info("spillway listening on " + server_cfg.listen_host + ":" + std::to_string(port) + " with " +
                 std::to_string(workers) + " workers, " + util::allocator_name() +
                 (server_cfg.admin_enabled
                      ? "; admin on " + server_cfg.admin_host + ":" + std::to_string(admin_port)
                      : std::string()));
  if (!options.ready_file.empty() && !write_ready_file(options.ready_file, port, admin_port)) {
    util::log_error("cannot write ready file " + options.ready_file);
    server.shutdown(std::chrono::milliseconds(0));
    return 1;
  }
  if (options.on_listening) options.on_listening(port, admin_port);

  sigset_t set = stop_signals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      util::log_warn("SIGHUP: configuration reload is not implemented yet; restart to apply changes");
      continue;
    }
    util::log_info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                   ": draining for up to " + std::to_string(server_cfg.timeouts.drain.count()) + " ms");
    break;
  }
  server.shutdown(server_cfg.timeouts.drain);
  for (const auto& stop : gateway->on_shutdown) stop();
  util::log_info("spillway stopped");
  return 0;
}

}  // namespace spillway::app
