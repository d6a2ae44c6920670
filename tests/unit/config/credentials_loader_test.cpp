// managed_identity and client_credentials sections (config/credentials_loader.cpp), through load_config_text.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "config/loader.h"

namespace spillway::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr const char* kSecret = "cc-secret-value-Zq9";

EnvLookup env() {
  return [](std::string_view name) -> std::optional<std::string> {
    if (name == "CC_SECRET") return std::string(kSecret);
    if (name == "EMPTY_SECRET") return std::string();
    return std::nullopt;
  };
}

// A config with one backend whose `auth` is `auth` (a YAML flow mapping).
std::string with_auth(const std::string& auth) {
  return "backends: { b: { url: https://x.openai.azure.com, kind: azure-openai, auth: " + auth +
         " } }\npools: { p: { members: [ { backend: b } ] } }\n";
}

MATCHER_P2(IsError, path, message_part, "") {
  *result_listener << "{" << arg.path << ": " << arg.message << "}";
  return arg.path == path && arg.message.find(message_part) != std::string::npos;
}

const BackendAuth& auth_of(const LoadResult& r) { return r.config->backends.at("b").auth; }

std::vector<ConfigError> errors_of(const std::string& auth) {
  return load_config_text(with_auth(auth), env()).errors;
}

// ---------------------------------------------------------------------------------------------------
// managed_identity

TEST(ManagedIdentityConfig, UserAssignedWithDefaults) {
  auto r = load_config_text(
      with_auth("{ managed_identity: { client_id: 11111111-2222-3333-4444-555555555555 } }"), env());
  ASSERT_THAT(r.errors, IsEmpty());
  const auto& a = auth_of(r);
  EXPECT_EQ(a.kind, BackendAuth::Kind::kManagedIdentity);
  EXPECT_EQ(a.managed_identity.client_id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(a.managed_identity.resource, "https://cognitiveservices.azure.com/");
  EXPECT_EQ(a.managed_identity.endpoint, "");
}

TEST(ManagedIdentityConfig, SystemAssignedEmptyOrNull) {
  for (const char* auth :
       {"{ managed_identity: {} }", "{ managed_identity: }", "{ managed_identity: null }"}) {
    auto r = load_config_text(with_auth(auth), env());
    ASSERT_THAT(r.errors, IsEmpty()) << auth;
    EXPECT_EQ(auth_of(r).kind, BackendAuth::Kind::kManagedIdentity);
    EXPECT_EQ(auth_of(r).managed_identity.client_id, "");
  }
}

TEST(ManagedIdentityConfig, ResourceAndEndpoint) {
  auto r = load_config_text(with_auth("{ managed_identity: { resource: 'https://ai.azure.com/', "
                                      "endpoint: 'http://127.0.0.1:1234/metadata/identity/oauth2/token' } }"),
                            env());
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(auth_of(r).managed_identity.resource, "https://ai.azure.com/");
  EXPECT_EQ(auth_of(r).managed_identity.endpoint, "http://127.0.0.1:1234/metadata/identity/oauth2/token");
}

TEST(ManagedIdentityConfig, Errors) {
  EXPECT_THAT(errors_of("{ managed_identity: { client_id: abc } }"),
              ElementsAre(IsError("backends.b.auth.managed_identity.client_id", "expected a GUID")));
  EXPECT_THAT(errors_of("{ managed_identity: { client_id: '' } }"),
              ElementsAre(IsError("backends.b.auth.managed_identity.client_id", "must not be empty")));
  EXPECT_THAT(errors_of("{ managed_identity: { object_id: x } }"),
              ElementsAre(IsError("backends.b.auth.managed_identity.object_id", "unknown key 'object_id'")));
  EXPECT_THAT(errors_of("{ managed_identity: { resource: 'a b' } }"),
              ElementsAre(IsError("backends.b.auth.managed_identity.resource", "whitespace")));
  EXPECT_THAT(errors_of("{ managed_identity: { endpoint: 'ftp://x/y' } }"),
              ElementsAre(IsError("backends.b.auth.managed_identity.endpoint", "http:// or https://")));
  EXPECT_THAT(errors_of("{ managed_identity: { endpoint: 'http://x/y?token=leak' } }"),
              ElementsAre(IsError("backends.b.auth.managed_identity.endpoint", "query")));
  EXPECT_THAT(errors_of("{ managed_identity: [a] }"),
              ElementsAre(IsError("backends.b.auth.managed_identity", "expected a mapping")));
  EXPECT_THAT(errors_of("{ managed_identity: {}, api_key_env: CC_SECRET }"),
              ElementsAre(IsError("backends.b.auth.api_key_env", "only one of")));
  for (const auto& e : errors_of("{ managed_identity: { endpoint: 'http://x/y?token=leak' } }")) {
    EXPECT_THAT(e.message, Not(HasSubstr("leak")));
  }
}

// ---------------------------------------------------------------------------------------------------
// client_credentials

constexpr const char* kClientCredentials =
    "{ client_credentials: { tenant_id: contoso.onmicrosoft.com, client_id: "
    "11111111-2222-3333-4444-555555555555, "
    "secret_env: CC_SECRET";

TEST(ClientCredentialsConfig, RequiredKeysAndDefaults) {
  auto r = load_config_text(with_auth(std::string(kClientCredentials) + " } }"), env());
  ASSERT_THAT(r.errors, IsEmpty());
  const auto& a = auth_of(r);
  EXPECT_EQ(a.kind, BackendAuth::Kind::kClientCredentials);
  const auto& cc = a.client_credentials;
  EXPECT_EQ(cc.tenant_id, "contoso.onmicrosoft.com");
  EXPECT_EQ(cc.client_id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(cc.secret_env, "CC_SECRET");
  EXPECT_EQ(cc.secret, kSecret);
  EXPECT_EQ(cc.resource, "https://cognitiveservices.azure.com/");
  EXPECT_EQ(cc.authority, "https://login.microsoftonline.com");
}

TEST(ClientCredentialsConfig, ResourceAndAuthority) {
  auto r =
      load_config_text(with_auth(std::string(kClientCredentials) +
                                 ", resource: 'https://ai.azure.com/', authority: 'http://127.0.0.1:99' } }"),
                       env());
  ASSERT_THAT(r.errors, IsEmpty());
  EXPECT_EQ(auth_of(r).client_credentials.resource, "https://ai.azure.com/");
  EXPECT_EQ(auth_of(r).client_credentials.authority, "http://127.0.0.1:99");
}

TEST(ClientCredentialsConfig, MissingKeysAreNamed) {
  EXPECT_THAT(errors_of("{ client_credentials: {} }"),
              ElementsAre(IsError("backends.b.auth.client_credentials.tenant_id", "missing required key"),
                          IsError("backends.b.auth.client_credentials.client_id", "missing required key"),
                          IsError("backends.b.auth.client_credentials.secret_env", "missing required key")));
  EXPECT_THAT(errors_of("{ client_credentials: }"),
              ElementsAre(IsError("backends.b.auth.client_credentials", "expected a mapping")));
}

TEST(ClientCredentialsConfig, Errors) {
  const std::string base = kClientCredentials;
  EXPECT_THAT(errors_of(base + ", secret: x } }"),
              ElementsAre(IsError("backends.b.auth.client_credentials.secret", "unknown key 'secret'")));
  EXPECT_THAT(errors_of(base + ", authority: 'login.microsoftonline.com' } }"),
              ElementsAre(IsError("backends.b.auth.client_credentials.authority", "http:// or https://")));
  EXPECT_THAT(errors_of("{ client_credentials: { tenant_id: 'a/b', client_id: x, secret_env: CC_SECRET } }"),
              ElementsAre(IsError("backends.b.auth.client_credentials.tenant_id", "expected a tenant id"),
                          IsError("backends.b.auth.client_credentials.client_id", "expected a GUID")));
}

TEST(ClientCredentialsConfig, SecretVariableErrorsNameTheVariableOnly) {
  const std::string head =
      "{ client_credentials: { tenant_id: t, client_id: 11111111-2222-3333-4444-555555555555, secret_env: ";
  EXPECT_THAT(errors_of(head + "NOPE } }"),
              ElementsAre(IsError("backends.b.auth.client_credentials.secret_env",
                                  "environment variable NOPE is not set")));
  EXPECT_THAT(errors_of(head + "EMPTY_SECRET } }"),
              ElementsAre(IsError("backends.b.auth.client_credentials.secret_env",
                                  "environment variable EMPTY_SECRET is empty")));
  // Errors elsewhere in the section never carry the resolved secret.
  auto errors = errors_of(head + "CC_SECRET, resource: '', authority: 'ftp://x', color: red } }");
  EXPECT_EQ(errors.size(), 3u);
  for (const auto& e : errors) {
    EXPECT_THAT(e.message, Not(HasSubstr(kSecret)));
    EXPECT_THAT(e.path, Not(HasSubstr(kSecret)));
  }
}

}  // namespace
}  // namespace spillway::config
