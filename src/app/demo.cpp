// `spillway demo`: the gateway in front of two simulated backends started in-process, on an embedded
// config, so a newcomer can send real requests with nothing else installed or configured.

#include <iostream>
#include <optional>

#include "app/commands.h"
#include "app/runtime.h"
#include "config/loader.h"
#include "mock/mock_llm.h"
#include "util/log.h"

namespace spillway::app {
namespace {

constexpr std::string_view kDemoKey = "sk-spillway-demo";
constexpr std::string_view kBackendKey = "demo-backend-secret";

// {listen}, {admin}, {ptu}, {payg} are replaced before loading.
constexpr std::string_view kDemoConfig = R"(
server: { listen: "{listen}", admin_listen: "{admin}", workers: auto, max_body: 4MiB }
backends:
  ptu-sim:  { url: "http://127.0.0.1:{ptu}",  kind: azure-openai, auth: { api_key_env: DEMO_BACKEND_KEY } }
  payg-sim: { url: "http://127.0.0.1:{payg}", kind: openai,       auth: { bearer_env: DEMO_BACKEND_KEY } }
pools:
  gpt-4o:
    members:
      - { backend: ptu-sim,  priority: 1, deployment: gpt-4o-ptu }
      - { backend: payg-sim, priority: 2, model: gpt-4o-2024-08-06 }
  gpt-4o-mini:
    members:
      - { backend: payg-sim, model: gpt-4o-mini }
  text-embedding-3-small:
    members:
      - { backend: payg-sim, model: text-embedding-3-small }
apis:
  - { name: openai,  prefix: "",         shape: openai }
  - { name: azure,   prefix: "",         shape: azure-openai }
subscriptions:
  demo: { key_env: SPILLWAY_DEMO_KEY, product: standard, tags: { team: demo } }
products:
  standard:
    token_limit:   { counter: subscription, tokens_per_minute: 50000, quota: 5000000, quota_period: monthly }
    request_limit: { counter: subscription, requests_per_minute: 600 }
identity:
  user_id: [ "header:x-user-id" ]
  user_hash_key_env: SPILLWAY_DEMO_USER_HASH_KEY
policies:
  headers:       { set: { x-platform: spillway-demo }, baggage: { platform: spillway-demo } }
  token_metrics: { dimensions: [api, operation, deployment, backend, subscription, user_hash, tool] }
)";

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size()) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

void print_examples(uint16_t port, uint16_t admin_port, std::string_view key) {
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::cout << "\nSpillway demo is running: gateway " << base << ", admin http://127.0.0.1:" << admin_port
            << "\nTwo simulated backends: ptu-sim (azure-openai) and payg-sim (openai). Client key: " << key
            << "\n\nTry:\n"
            << "  curl -s " << base << "/v1/chat/completions -H 'api-key: " << key
            << "' -H 'content-type: application/json' \\\n"
            << "       -d '{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'\n"
            << "  curl -sN " << base
            << "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21 -H 'api-key: " << key
            << "' \\\n"
            << "       -H 'content-type: application/json' -d "
               "'{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
               "\"stream\":true}'\n"
            << "  curl -s " << base << "/v1/embeddings -H 'authorization: Bearer " << key
            << "' -H 'content-type: application/json' -d "
               "'{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}'\n"
            << "  curl -s " << base << "/v1/models -H 'api-key: " << key << "'\n"
            << "  curl -s http://127.0.0.1:" << admin_port << "/metrics | grep spillway_tokens_total\n"
            << "\nOne JSON access-log line per request follows. Ctrl-C stops.\n\n"
            << std::flush;
}

}  // namespace

int run_demo(const std::vector<std::string>& args) {
  std::string listen = "127.0.0.1:8080";
  std::string admin = "127.0.0.1:9090";
  std::string ready_file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--listen" && has_value) {
      listen = args[++i];
    } else if (args[i] == "--admin-listen" && has_value) {
      admin = args[++i];
    } else if (args[i] == "--ready-file" && has_value) {
      ready_file = args[++i];
    } else {
      std::cerr << "usage: spillway demo [--listen HOST:PORT] [--admin-listen HOST:PORT] [--ready-file F]\n";
      return 2;
    }
  }
  block_stop_signals();  // before the mock threads start, so only the main thread takes SIGTERM/SIGINT

  mock::MockOptions ptu;
  ptu.name = "ptu-sim";
  ptu.api_key = std::string(kBackendKey);
  ptu.latency = std::chrono::milliseconds(30);
  ptu.tokens_per_second = 40;
  ptu.tpm_capacity = 2000;
  mock::MockOptions payg = ptu;
  payg.name = "payg-sim";
  payg.latency = std::chrono::milliseconds(60);
  payg.tpm_capacity = 0;
  auto ptu_mock = mock::MockLlm::start(ptu);
  auto payg_mock = mock::MockLlm::start(payg);

  std::string text(kDemoConfig);
  text = replace_all(text, "{listen}", listen);
  text = replace_all(text, "{admin}", admin);
  text = replace_all(text, "{ptu}", std::to_string(ptu_mock->port()));
  text = replace_all(text, "{payg}", std::to_string(payg_mock->port()));
  const config::EnvLookup real_env = config::process_env();
  const config::EnvLookup env = [&](std::string_view name) -> std::optional<std::string> {
    if (auto v = real_env(name)) return v;
    if (name == "SPILLWAY_DEMO_KEY") return std::string(kDemoKey);
    if (name == "DEMO_BACKEND_KEY") return std::string(kBackendKey);
    if (name == "SPILLWAY_DEMO_USER_HASH_KEY") return std::string("demo-user-hash-key");
    return std::nullopt;
  };
  auto result = config::load_config_text(text, env);
  if (!result.config) {
    for (const auto& e : result.errors) std::cerr << "demo config: " << e.path << ": " << e.message << "\n";
    return 1;
  }
  const std::string key = result.config->subscriptions.at("demo").key;
  const int code =
      serve_gateway(build_gateway(std::move(*result.config)),
                    ServeOptions{.ready_file = ready_file,
                                 .on_listening = [&](uint16_t p, uint16_t a) { print_examples(p, a, key); }});
  ptu_mock->stop();
  payg_mock->stop();
  return code;
}

}  // namespace spillway::app
