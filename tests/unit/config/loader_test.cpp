#include "config/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace spillway::config {

// Outside the anonymous namespace so that argument-dependent lookup finds it in failure messages.
void PrintTo(const ConfigError& e, std::ostream* os) { *os << "{" << e.path << ": " << e.message << "}"; }

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The variables the configs below refer to; values are distinctive so a leak is easy to spot.
EnvLookup test_env() {
  return fake_env({{"PAYG_KEY", "payg-secret-123"},
                   {"OPENAI_KEY", "sk-openai-secret-456"},
                   {"EMPTY_KEY", ""},
                   {"TEAM_A_KEY", "team-a-secret-789"},
                   {"TEAM_B_KEY", "team-b-secret-abc"},
                   {"SAME_AS_A_KEY", "team-a-secret-789"}});
}

MATCHER_P2(IsError, path, message_part, "") {
  return arg.path == path && arg.message.find(message_part) != std::string::npos;
}

constexpr const char* kFullConfig = R"yaml(
server:
  listen: 127.0.0.1:0
  admin_listen: "[::1]:9191"
  workers: 4
  max_body: 512KiB
  max_response_body: 1MB
  timeouts: { connect: 250ms, first_byte: 1.5s, idle: 2m, total: 1h, client_idle: 30s, drain: 5000 }
state: { store: memory }
usage_log: { sqlite: ./usage.db, log_prompts: false }
identity: { user_id: [ "jwt:oid" ] }
products: { standard: { token_limit: { tokens_per_minute: 20000 } } }
policies: { headers: { set: { x-platform: shared-ai } } }
telemetry: { otlp: http://collector:4318 }
backends:
  payg:
    url: https://payg.openai.azure.com:8443/base/
    kind: azure-openai
    auth: { api_key_env: PAYG_KEY }
    api_version: 2024-06-01
    tls_verify: false
  local:
    url: http://127.0.0.1:8000
    kind: openai
    auth: { bearer_env: OPENAI_KEY }
  open:
    url: http://vllm
    kind: openai
pools:
  gpt-4o:
    members:
      - { backend: payg, deployment: gpt-4o-dep, priority: 1 }
      - { backend: local, model: gpt-4o-2024-08-06, priority: 2, weight: 3 }
    retry: { on: [429], max_attempts: 3 }
    circuit_breaker: { failures: 3 }
  small:
    members: [ { backend: open } ]
apis:
  - { name: foundry, prefix: /foundry/, shape: azure-openai }
  - { name: openai, prefix: /, shape: openai }
subscriptions:
  team-a: { key_env: TEAM_A_KEY, product: standard, tags: { team: search, cost-center: "42" } }
  team-b: { key_env: TEAM_B_KEY }
)yaml";

TEST(LoadConfig, FullConfigMapsToStruct) {
  LoadResult result = load_config_text(kFullConfig, test_env());
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());
  ASSERT_TRUE(result.config);
  const Config& c = *result.config;

  EXPECT_EQ(c.server.listen_host, "127.0.0.1");
  EXPECT_EQ(c.server.listen_port, 0);
  EXPECT_TRUE(c.server.admin_enabled);
  EXPECT_EQ(c.server.admin_host, "::1");
  EXPECT_EQ(c.server.admin_port, 9191);
  EXPECT_EQ(c.server.workers, 4);
  EXPECT_EQ(c.server.max_body, 512u * 1024);
  EXPECT_EQ(c.server.max_response_body, 1'000'000u);
  EXPECT_EQ(c.server.timeouts.connect, Millis(250));
  EXPECT_EQ(c.server.timeouts.first_byte, Millis(1500));
  EXPECT_EQ(c.server.timeouts.idle, Millis(120'000));
  EXPECT_EQ(c.server.timeouts.total, Millis(3'600'000));
  EXPECT_EQ(c.server.timeouts.client_idle, Millis(30'000));
  EXPECT_EQ(c.server.timeouts.drain, Millis(5'000));

  ASSERT_EQ(c.backends.size(), 3u);
  const Backend& payg = c.backends.at("payg");
  EXPECT_EQ(payg.name, "payg");
  EXPECT_EQ(payg.url, "https://payg.openai.azure.com:8443/base/");
  EXPECT_TRUE(payg.tls);
  EXPECT_EQ(payg.host, "payg.openai.azure.com");
  EXPECT_EQ(payg.port, 8443);
  EXPECT_EQ(payg.base_path, "/base");
  EXPECT_EQ(payg.kind, BackendKind::kAzureOpenAI);
  EXPECT_EQ(payg.auth.kind, BackendAuth::Kind::kApiKeyEnv);
  EXPECT_EQ(payg.auth.env, "PAYG_KEY");
  EXPECT_EQ(payg.auth.secret, "payg-secret-123");
  EXPECT_EQ(payg.api_version, "2024-06-01");
  EXPECT_FALSE(payg.tls_verify);

  const Backend& local = c.backends.at("local");
  EXPECT_FALSE(local.tls);
  EXPECT_EQ(local.port, 8000);
  EXPECT_EQ(local.base_path, "");
  EXPECT_EQ(local.kind, BackendKind::kOpenAI);
  EXPECT_EQ(local.auth.kind, BackendAuth::Kind::kBearerEnv);
  EXPECT_EQ(local.auth.secret, "sk-openai-secret-456");
  EXPECT_EQ(local.api_version, "2024-10-21");
  EXPECT_TRUE(local.tls_verify);

  const Backend& open = c.backends.at("open");
  EXPECT_EQ(open.port, 80);
  EXPECT_EQ(open.auth.kind, BackendAuth::Kind::kNone);
  EXPECT_EQ(open.auth.secret, "");

  ASSERT_EQ(c.pools.size(), 2u);
  const Pool& gpt = c.pools.at("gpt-4o");
  EXPECT_EQ(gpt.name, "gpt-4o");
  ASSERT_EQ(gpt.members.size(), 2u);
  EXPECT_EQ(gpt.members[0].backend, "payg");
  EXPECT_EQ(gpt.members[0].deployment, "gpt-4o-dep");
  EXPECT_EQ(gpt.members[0].model, "");
  EXPECT_EQ(gpt.members[0].priority, 1);
  EXPECT_EQ(gpt.members[0].weight, 1);
  EXPECT_EQ(gpt.members[1].backend, "local");
  EXPECT_EQ(gpt.members[1].model, "gpt-4o-2024-08-06");
  EXPECT_EQ(gpt.members[1].priority, 2);
  EXPECT_EQ(gpt.members[1].weight, 3);
  ASSERT_EQ(c.pools.at("small").members.size(), 1u);

  ASSERT_EQ(c.apis.size(), 2u);
  EXPECT_EQ(c.apis[0].name, "foundry");
  EXPECT_EQ(c.apis[0].prefix, "/foundry");
  EXPECT_EQ(c.apis[0].shape, Shape::kAzureOpenAI);
  EXPECT_EQ(c.apis[1].name, "openai");
  EXPECT_EQ(c.apis[1].prefix, "");
  EXPECT_EQ(c.apis[1].shape, Shape::kOpenAI);

  ASSERT_EQ(c.subscriptions.size(), 2u);
  const Subscription& a = c.subscriptions.at("team-a");
  EXPECT_EQ(a.name, "team-a");
  EXPECT_EQ(a.key_env, "TEAM_A_KEY");
  EXPECT_EQ(a.key, "team-a-secret-789");
  EXPECT_EQ(a.product, "standard");
  EXPECT_EQ(a.tags, (std::map<std::string, std::string>{{"team", "search"}, {"cost-center", "42"}}));
  EXPECT_EQ(c.subscriptions.at("team-b").key, "team-b-secret-abc");
}

TEST(LoadConfig, DefaultsWhenSectionsAreAbsent) {
  LoadResult result = load_config_text("server: { workers: auto }\n", fake_env({}));
  ASSERT_THAT(result.errors, IsEmpty());
  ASSERT_TRUE(result.config);
  const Config& c = *result.config;
  const ServerSettings defaults;
  EXPECT_EQ(c.server.listen_host, defaults.listen_host);
  EXPECT_EQ(c.server.listen_port, defaults.listen_port);
  EXPECT_TRUE(c.server.admin_enabled);
  EXPECT_EQ(c.server.workers, 0);
  EXPECT_EQ(c.server.max_body, defaults.max_body);
  EXPECT_EQ(c.server.timeouts.total, defaults.timeouts.total);
  EXPECT_TRUE(c.backends.empty());
  EXPECT_TRUE(c.pools.empty());

  ASSERT_EQ(c.apis.size(), 2u);
  EXPECT_EQ(c.apis[0].name, "openai");
  EXPECT_EQ(c.apis[0].prefix, "");
  EXPECT_EQ(c.apis[0].shape, Shape::kOpenAI);
  EXPECT_EQ(c.apis[1].name, "azure");
  EXPECT_EQ(c.apis[1].prefix, "");
  EXPECT_EQ(c.apis[1].shape, Shape::kAzureOpenAI);

  EXPECT_THAT(result.warnings, ElementsAre("no subscriptions configured: client authentication is disabled"));
}

TEST(LoadConfig, EmptySectionsCountAsAbsent) {
  LoadResult result =
      load_config_text("server:\nbackends:\npools:\napis:\nsubscriptions:\nstate:\n", fake_env({}));
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_EQ(result.config->apis.size(), 2u);
  EXPECT_THAT(result.warnings, ElementsAre(HasSubstr("no subscriptions configured")));
}

TEST(LoadConfig, AdminListenerCanBeDisabled) {
  for (const char* value : {"false", "off", "\"off\"", "False"}) {
    LoadResult result =
        load_config_text(std::string("server: { admin_listen: ") + value + " }", fake_env({}));
    ASSERT_THAT(result.errors, IsEmpty()) << value;
    EXPECT_FALSE(result.config->server.admin_enabled) << value;
  }
}

TEST(LoadConfig, PoolsMayReferToBackendsDefinedLater) {
  LoadResult result = load_config_text(R"yaml(
pools: { p: { members: [ { backend: b } ] } }
backends: { b: { url: http://b, kind: openai } }
)yaml",
                                       fake_env({}));
  EXPECT_THAT(result.errors, IsEmpty());
}

TEST(LoadConfig, CaFileMustBeReadable) {
  const std::string readable = SPW_SOURCE_DIR "/tests/unit/config/loader_test.cpp";
  LoadResult ok = load_config_text(
      "backends: { b: { url: https://b, kind: openai, ca_file: '" + readable + "' } }", fake_env({}));
  ASSERT_THAT(ok.errors, IsEmpty());
  EXPECT_EQ(ok.config->backends.at("b").ca_file, readable);

  LoadResult dir = load_config_text(
      "backends: { b: { url: https://b, kind: openai, ca_file: '" SPW_SOURCE_DIR "' } }", fake_env({}));
  EXPECT_THAT(dir.errors, ElementsAre(IsError("backends.b.ca_file", "not a regular file")));
}

TEST(LoadConfig, ExampleGatewayYamlLoads) {
  auto env = fake_env({{"AZURE_PAYG_KEY", "k1"},
                       {"OPENAI_API_KEY", "k2"},
                       {"TEAM_SEARCH_KEY", "k3"},
                       {"TEAM_CHAT_KEY", "k4"}});
  LoadResult result = load_config_file(SPW_SOURCE_DIR "/examples/gateway.yaml", env);
  ASSERT_THAT(result.errors, IsEmpty());
  EXPECT_THAT(result.warnings, IsEmpty());
  const Config& c = *result.config;
  EXPECT_EQ(c.backends.at("azure-payg").kind, BackendKind::kAzureOpenAI);
  EXPECT_EQ(c.backends.at("azure-payg").auth.env, "AZURE_PAYG_KEY");
  EXPECT_EQ(c.backends.at("openai").auth.kind, BackendAuth::Kind::kBearerEnv);
  EXPECT_EQ(c.pools.at("gpt-4o").members.size(), 2u);
  ASSERT_EQ(c.apis.size(), 2u);
  EXPECT_EQ(c.subscriptions.at("team-search").tags.at("team"), "search");
  EXPECT_EQ(c.subscriptions.at("team-chat").key, "k4");
}

TEST(LoadConfig, ExampleWithoutEnvironmentNamesEachVariable) {
  LoadResult result = load_config_file(SPW_SOURCE_DIR "/examples/gateway.yaml", fake_env({}));
  EXPECT_FALSE(result.config);
  EXPECT_THAT(result.errors,
              ElementsAre(IsError("backends.azure-payg.auth.api_key_env", "AZURE_PAYG_KEY is not set"),
                          IsError("backends.openai.auth.bearer_env", "OPENAI_API_KEY is not set"),
                          IsError("subscriptions.team-search.key_env", "TEAM_SEARCH_KEY is not set"),
                          IsError("subscriptions.team-chat.key_env", "TEAM_CHAT_KEY is not set")));
}

TEST(LoadConfig, UnreadableFileIsOneError) {
  LoadResult missing = load_config_file("/nonexistent/spillway.yaml", fake_env({}));
  EXPECT_FALSE(missing.config);
  EXPECT_THAT(missing.errors,
              ElementsAre(IsError("", "cannot read /nonexistent/spillway.yaml: No such file")));

  LoadResult dir = load_config_file(SPW_SOURCE_DIR, fake_env({}));
  EXPECT_THAT(dir.errors, ElementsAre(IsError("", "cannot read " SPW_SOURCE_DIR ": Is a directory")));
}

TEST(LoadConfig, SyntaxErrorReportsLineAndColumn) {
  LoadResult result = load_config_text("server:\n  listen: [1, 2\nbackends: {}\n", fake_env({}));
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].path, "");
  EXPECT_THAT(result.errors[0].message, HasSubstr("YAML syntax error at line 3"));
  EXPECT_THAT(result.errors[0].message, HasSubstr("column"));
}

TEST(LoadConfig, NeverThrowsOnHostileInput) {
  for (const std::string& text : {std::string(100'000, '['), std::string("\xff\xfe\x00\x01", 4),
                                  std::string("a: *undefined_alias"), std::string("{a: 1, b: [}")}) {
    LoadResult result;
    EXPECT_NO_THROW(result = load_config_text(text, fake_env({})));
    EXPECT_FALSE(result.config);
    EXPECT_FALSE(result.errors.empty());
  }
}

TEST(LoadConfig, ReportsEveryErrorInDocumentOrder) {
  LoadResult result = load_config_text(R"yaml(
server: { workers: 0, max_body: 0 }
pools:
  gpt-4o:
    members:
      - { backend: payg }
      - { backend: nope, weight: 0 }
backends:
  payg: { url: ftp://x, kind: azure-openai, auth: { api_key_env: MISSING_KEY } }
apis:
  - { name: a, shape: openai }
  - { name: a, prefix: /a, shape: soap }
bogus: 1
)yaml",
                                       fake_env({}));
  EXPECT_FALSE(result.config);
  EXPECT_THAT(result.errors, ElementsAre(IsError("server.workers", "auto or an integer"),
                                         IsError("server.max_body", "size > 0"),
                                         IsError("pools.gpt-4o.members[1].backend", "unknown backend 'nope'"),
                                         IsError("pools.gpt-4o.members[1].weight", "between 1 and"),
                                         IsError("backends.payg.url", "http:// or https://"),
                                         IsError("backends.payg.auth.api_key_env", "MISSING_KEY is not set"),
                                         IsError("apis[1].name", "duplicate api name 'a'"),
                                         IsError("apis[1].shape", "expected azure-openai or openai"),
                                         IsError("bogus", "unknown key 'bogus'")));
}

TEST(LoadConfig, SecretValuesNeverAppearInMessages) {
  // Every secret below is set, and each config section around it is wrong in some way.
  LoadResult result = load_config_text(R"yaml(
backends:
  a: { url: "https://user:hunter2-password@a", kind: openai, auth: { api_key_env: PAYG_KEY, bearer_env: OPENAI_KEY } }
  b: { url: "https://b/?api-key=query-secret", kind: openai, auth: { bearer_env: OPENAI_KEY }, color: red }
subscriptions:
  team-a: { key_env: TEAM_A_KEY, tags: [ x ] }
  dup: { key_env: SAME_AS_A_KEY }
  team-b: { key_env: TEAM_B_KEY, product: "" }
)yaml",
                                       test_env());
  EXPECT_FALSE(result.config);
  EXPECT_THAT(
      result.errors,
      ElementsAre(IsError("backends.a.url", "user info"),
                  IsError("backends.a.auth.bearer_env", "only one of"), IsError("backends.b.url", "query"),
                  IsError("backends.b.color", "unknown key 'color'"),
                  IsError("subscriptions.team-a.tags", "expected a mapping"),
                  IsError("subscriptions.dup.key_env", "same key as subscription 'team-a'"),
                  IsError("subscriptions.team-b.product", "must not be empty")));
  for (const ConfigError& e : result.errors) {
    for (const char* secret : {"payg-secret-123", "sk-openai-secret-456", "team-a-secret-789",
                               "team-b-secret-abc", "hunter2-password", "query-secret"}) {
      EXPECT_THAT(e.message, ::testing::Not(HasSubstr(secret)));
      EXPECT_THAT(e.path, ::testing::Not(HasSubstr(secret)));
    }
  }
}

// One broken config and the single error it must produce.
struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* path;
  const char* message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class LoadConfigError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(LoadConfigError, ReportsPathAndMessage) {
  const ErrorCase& c = GetParam();
  LoadResult result = load_config_text(c.yaml, test_env());
  EXPECT_FALSE(result.config);
  EXPECT_THAT(result.errors, ElementsAre(IsError(c.path, c.message)));
}

constexpr const char* kBackendB = "backends: { b: { url: http://b, kind: openai } }\n";

const ErrorCase kErrorCases[] = {
    // Document
    {"EmptyDocument", "", "", "the configuration is empty"},
    {"OnlyComments", "# nothing here\n", "", "the configuration is empty"},
    {"NotAMapping", "[1, 2]", "", "must be a mapping, got a list"},
    {"Scalar", "hello", "", "must be a mapping, got a scalar"},
    {"TwoDocuments", "server: {}\n---\nserver: {}\n", "", "expected one YAML document, found 2"},
    {"UnknownTopLevelKey", "servers: {}", "servers", "unknown key 'servers'"},
    {"DuplicateKey", "server: { workers: 2, workers: 3 }", "server.workers", "duplicate key 'workers'"},
    {"NonScalarKey", "server: { [a]: 1 }", "server", "keys must be scalars"},
    {"OpaqueSectionNotAMapping", "state: redis", "state", "expected a mapping, got a scalar"},
    // server
    {"ServerNotAMapping", "server: [1]", "server", "expected a mapping, got a list"},
    {"ServerUnknownKey", "server: { port: 1 }", "server.port", "unknown key 'port'"},
    {"ListenGarbage", "server: { listen: nope }", "server.listen", "expected host:port"},
    {"ListenNoPort", "server: { listen: 0.0.0.0 }", "server.listen", "expected host:port"},
    {"ListenPortTooLarge", "server: { listen: '0.0.0.0:70000' }", "server.listen", "expected host:port"},
    {"ListenList", "server: { listen: [a] }", "server.listen", "expected host:port"},
    {"AdminListenGarbage", "server: { admin_listen: 'yes' }", "server.admin_listen", "host:port"},
    {"AdminListenSamePort", "server: { listen: '0.0.0.0:8080', admin_listen: '127.0.0.1:8080' }",
     "server.admin_listen", "same address and port as listen"},
    {"WorkersZero", "server: { workers: 0 }", "server.workers",
     "expected auto or an integer between 1 and 256"},
    {"WorkersTooMany", "server: { workers: 257 }", "server.workers", "between 1 and 256"},
    {"WorkersWord", "server: { workers: many }", "server.workers", "between 1 and 256"},
    {"MaxBodyZero", "server: { max_body: 0 }", "server.max_body", "expected a size > 0"},
    {"MaxBodyGarbage", "server: { max_body: 4 lots }", "server.max_body", "expected a size > 0"},
    {"MaxResponseBodyGarbage", "server: { max_response_body: -1 }", "server.max_response_body", "size > 0"},
    {"TimeoutsNotAMapping", "server: { timeouts: 5s }", "server.timeouts", "expected a mapping"},
    {"TimeoutZero", "server: { timeouts: { connect: 0s } }", "server.timeouts.connect", "duration > 0"},
    {"TimeoutNegative", "server: { timeouts: { drain: -1s } }", "server.timeouts.drain", "duration > 0"},
    {"TimeoutGarbage", "server: { timeouts: { first_byte: soon } }", "server.timeouts.first_byte",
     "duration"},
    {"TimeoutUnknownKey", "server: { timeouts: { read: 1s } }", "server.timeouts.read", "unknown key 'read'"},
    // backends
    {"BackendsNotAMapping", "backends: [a]", "backends", "expected a mapping"},
    {"BackendNotAMapping", "backends: { b: 1 }", "backends.b", "expected a mapping, got a scalar"},
    {"BackendMissingUrl", "backends: { b: { kind: openai } }", "backends.b.url",
     "missing required key 'url'"},
    {"BackendMissingKind", "backends: { b: { url: http://b } }", "backends.b.kind",
     "missing required key 'kind'"},
    {"BackendBadKind", "backends: { b: { url: http://b, kind: anthropic } }", "backends.b.kind",
     "expected azure-openai or openai, got 'anthropic'"},
    {"BackendUrlScheme", "backends: { b: { url: 'ws://b', kind: openai } }", "backends.b.url",
     "http:// or https://"},
    {"BackendUrlEmpty", "backends: { b: { url: '', kind: openai } }", "backends.b.url", "must not be empty"},
    {"BackendUrlFragment", "backends: { b: { url: 'http://b/x#y', kind: openai } }", "backends.b.url",
     "query or fragment"},
    {"BackendUrlPort", "backends: { b: { url: 'http://b:http', kind: openai } }", "backends.b.url",
     "invalid port"},
    {"BackendUnknownKey", "backends: { b: { url: http://b, kind: openai, model: x } }", "backends.b.model",
     "unknown key 'model'"},
    {"BackendApiVersionEmpty", "backends: { b: { url: http://b, kind: openai, api_version: '' } }",
     "backends.b.api_version", "must not be empty"},
    {"BackendTlsVerifyNotBool", "backends: { b: { url: http://b, kind: openai, tls_verify: maybe } }",
     "backends.b.tls_verify", "expected true or false"},
    {"BackendCaFileMissing", "backends: { b: { url: http://b, kind: openai, ca_file: /nonexistent/ca.pem } }",
     "backends.b.ca_file", "cannot read CA file '/nonexistent/ca.pem': No such file"},
    {"AuthNotAMapping", "backends: { b: { url: http://b, kind: openai, auth: PAYG_KEY } }", "backends.b.auth",
     "expected a mapping"},
    {"AuthEmpty", "backends: { b: { url: http://b, kind: openai, auth: {} } }", "backends.b.auth",
     "expected one of api_key_env, bearer_env"},
    {"AuthEnvUnset", "backends: { b: { url: http://b, kind: openai, auth: { api_key_env: NOPE_KEY } } }",
     "backends.b.auth.api_key_env", "environment variable NOPE_KEY is not set"},
    {"AuthEnvEmpty", "backends: { b: { url: http://b, kind: openai, auth: { bearer_env: EMPTY_KEY } } }",
     "backends.b.auth.bearer_env", "environment variable EMPTY_KEY is empty"},
    {"AuthEnvNameEmpty", "backends: { b: { url: http://b, kind: openai, auth: { bearer_env: '' } } }",
     "backends.b.auth.bearer_env", "must not be empty"},
    {"AuthTwoMethods",
     "backends: { b: { url: http://b, kind: openai, auth: { api_key_env: PAYG_KEY, bearer_env: OPENAI_KEY } "
     "} }",
     "backends.b.auth.bearer_env", "only one of"},
    {"AuthManagedIdentity",
     "backends: { b: { url: http://b, kind: azure-openai, auth: { managed_identity: { client_id: x } } } }",
     "backends.b.auth.managed_identity.client_id", "expected a GUID"},
    {"AuthClientCredentials",
     "backends: { b: { url: http://b, kind: azure-openai, auth: { client_credentials: { tenant_id: t, "
     "client_id: 11111111-2222-3333-4444-555555555555, secret_env: NOPE_KEY } } } }",
     "backends.b.auth.client_credentials.secret_env", "environment variable NOPE_KEY is not set"},
    {"AuthUnknownKey",
     "backends: { b: { url: http://b, kind: openai, auth: { api_key_env: PAYG_KEY, password: x } } }",
     "backends.b.auth.password", "unknown key 'password'"},
    // pools
    {"PoolsNotAMapping", "pools: [a]", "pools", "expected a mapping"},
    {"PoolNotAMapping", "pools: { p: [ { backend: b } ] }", "pools.p", "expected a mapping, got a list"},
    {"PoolMissingMembers", "pools: { p: { retry: {} } }", "pools.p.members",
     "missing required key 'members'"},
    {"PoolMembersEmpty", "pools: { p: { members: [] } }", "pools.p.members", "at least one member"},
    {"PoolMembersNotAList", "pools: { p: { members: { backend: b } } }", "pools.p.members",
     "expected a list"},
    {"PoolUnknownKey",
     "backends: { b: { url: http://b, kind: openai } }\n"
     "pools: { p: { members: [ { backend: b } ], strategy: random } }",
     "pools.p.strategy", "unknown key 'strategy'"},
    {"PoolRetryNotAMapping",
     "backends: { b: { url: http://b, kind: openai } }\n"
     "pools: { p: { members: [ { backend: b } ], retry: 3 } }",
     "pools.p.retry", "expected a mapping"},
    {"MemberNotAMapping", "pools: { p: { members: [ b ] } }", "pools.p.members[0]", "expected a mapping"},
    {"MemberMissingBackend", "pools: { p: { members: [ { model: m } ] } }", "pools.p.members[0].backend",
     "missing required key 'backend'"},
    {"MemberUnknownBackend",
     "backends: { b: { url: http://b, kind: openai } }\n"
     "pools: { p: { members: [ { backend: b }, { backend: c } ] } }",
     "pools.p.members[1].backend", "unknown backend 'c'"},
    {"MemberPriorityZero",
     "backends: { b: { url: http://b, kind: openai } }\n"
     "pools: { p: { members: [ { backend: b, priority: 0 } ] } }",
     "pools.p.members[0].priority", "expected an integer between 1 and"},
    {"MemberWeightWord",
     "backends: { b: { url: http://b, kind: openai } }\n"
     "pools: { p: { members: [ { backend: b, weight: heavy } ] } }",
     "pools.p.members[0].weight", "expected an integer between 1 and"},
    {"MemberDeploymentList",
     "backends: { b: { url: http://b, kind: openai } }\n"
     "pools: { p: { members: [ { backend: b, deployment: [x] } ] } }",
     "pools.p.members[0].deployment", "expected a string, got a list"},
    {"MemberUnknownKey",
     "backends: { b: { url: http://b, kind: openai } }\n"
     "pools: { p: { members: [ { backend: b, url: x } ] } }",
     "pools.p.members[0].url", "unknown key 'url'"},
    // apis
    {"ApisNotAList", "apis: { name: a }", "apis", "expected a list, got a mapping"},
    {"ApisEmpty", "apis: []", "apis", "at least one api"},
    {"ApiNotAMapping", "apis: [ openai ]", "apis[0]", "expected a mapping"},
    {"ApiMissingName", "apis: [ { shape: openai } ]", "apis[0].name", "missing required key 'name'"},
    {"ApiMissingShape", "apis: [ { name: a } ]", "apis[0].shape", "missing required key 'shape'"},
    {"ApiBadShape", "apis: [ { name: a, shape: grpc } ]", "apis[0].shape", "expected azure-openai or openai"},
    {"ApiDuplicateName", "apis: [ { name: a, shape: openai }, { name: a, prefix: /x, shape: openai } ]",
     "apis[1].name", "duplicate api name 'a'"},
    {"ApiPrefixNoSlash", "apis: [ { name: a, prefix: foundry, shape: openai } ]", "apis[0].prefix",
     "must start with '/'"},
    {"ApiPrefixQuery", "apis: [ { name: a, prefix: '/x?y', shape: openai } ]", "apis[0].prefix",
     "must not contain '?'"},
    {"ApiDuplicatePrefix",
     "apis: [ { name: a, prefix: /x, shape: openai }, { name: b, prefix: /x/, shape: openai } ]",
     "apis[1].prefix", "same shape already uses prefix '/x'"},
    {"ApiDuplicateEmptyPrefix", "apis: [ { name: a, shape: openai }, { name: b, prefix: /, shape: openai } ]",
     "apis[1].prefix", "same shape already uses prefix ''"},
    {"ApiUnknownKey", "apis: [ { name: a, shape: openai, host: x } ]", "apis[0].host", "unknown key 'host'"},
    // subscriptions
    {"SubscriptionsNotAMapping", "subscriptions: [a]", "subscriptions", "expected a mapping"},
    {"SubscriptionNotAMapping", "subscriptions: { s: TEAM_A_KEY }", "subscriptions.s", "expected a mapping"},
    {"SubscriptionMissingKeyEnv", "subscriptions: { s: { product: p } }", "subscriptions.s.key_env",
     "missing required key 'key_env'"},
    {"SubscriptionKeyEnvUnset", "subscriptions: { s: { key_env: NOPE_KEY } }", "subscriptions.s.key_env",
     "environment variable NOPE_KEY is not set"},
    {"SubscriptionKeyEnvEmpty", "subscriptions: { s: { key_env: EMPTY_KEY } }", "subscriptions.s.key_env",
     "environment variable EMPTY_KEY is empty"},
    {"SubscriptionDuplicateKey",
     "subscriptions: { a: { key_env: TEAM_A_KEY }, b: { key_env: TEAM_B_KEY }, c: { key_env: SAME_AS_A_KEY } "
     "}",
     "subscriptions.c.key_env", "resolves to the same key as subscription 'a'"},
    {"SubscriptionTagNotAString", "subscriptions: { s: { key_env: TEAM_A_KEY, tags: { team: [a] } } }",
     "subscriptions.s.tags.team", "expected a string"},
    {"SubscriptionUnknownKey", "subscriptions: { s: { key_env: TEAM_A_KEY, key: x } }", "subscriptions.s.key",
     "unknown key 'key'"},
};

INSTANTIATE_TEST_SUITE_P(AllClasses, LoadConfigError, ::testing::ValuesIn(kErrorCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(ParseDuration, AcceptsUnitsAndRoundsUp) {
  EXPECT_EQ(parse_duration("20ms"), Millis(20));
  EXPECT_EQ(parse_duration("1.5s"), Millis(1500));
  EXPECT_EQ(parse_duration("10s"), Millis(10'000));
  EXPECT_EQ(parse_duration("2m"), Millis(120'000));
  EXPECT_EQ(parse_duration("1h"), Millis(3'600'000));
  EXPECT_EQ(parse_duration("0.25h"), Millis(900'000));
  EXPECT_EQ(parse_duration("250us"), Millis(1));
  EXPECT_EQ(parse_duration("1000us"), Millis(1));
  EXPECT_EQ(parse_duration("1001us"), Millis(2));
  EXPECT_EQ(parse_duration("0.0001s"), Millis(1));
  EXPECT_EQ(parse_duration("1.0001s"), Millis(1001));
  EXPECT_EQ(parse_duration("1500"), Millis(1500));
  EXPECT_EQ(parse_duration("2.5"), Millis(3));
  EXPECT_EQ(parse_duration("0"), Millis(0));
  EXPECT_EQ(parse_duration("0s"), Millis(0));
}

TEST(ParseDuration, RejectsBadInput) {
  for (const char* text :
       {"", "s", "-1s", "-5", "+5s", "abc", "10 s", " 10s", "10s ", "1.s", ".5s", "1..5s", "10d", "10S",
        "1e3", "1,5s", "1.1234567890s", "99999999999999999999", "5000000000000h"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << text;
  }
}

TEST(ParseSize, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(parse_size("4MiB"), 4u * 1024 * 1024);
  EXPECT_EQ(parse_size("512KiB"), 512u * 1024);
  EXPECT_EQ(parse_size("1GiB"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_size("1MB"), 1'000'000u);
  EXPECT_EQ(parse_size("64KB"), 64'000u);
  EXPECT_EQ(parse_size("1000"), 1000u);
  EXPECT_EQ(parse_size("1000B"), 1000u);
  EXPECT_EQ(parse_size("2TiB"), std::size_t{2} << 40);
  EXPECT_EQ(parse_size("4mib"), 4u * 1024 * 1024);
  EXPECT_EQ(parse_size("0"), 0u);
}

TEST(ParseSize, RejectsBadInputAndOverflow) {
  for (const char* text : {"", "MiB", "-1", "+1", "4 MiB", "4XB", "1.5MiB", "4M", "0x10",
                           "18446744073709551616", "16777216TiB", "18446744073709551615KB"}) {
    EXPECT_EQ(parse_size(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace spillway::config
