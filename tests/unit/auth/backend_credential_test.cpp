#include "auth/backend_credential.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "auth/token_cache.h"
#include "auth/token_credential.h"
#include "auth/token_request.h"
#include "http/types.h"
#include "util/clock.h"

namespace spillway::auth {
namespace {

namespace net = boost::asio;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

std::chrono::system_clock::time_point epoch_seconds(int64_t s) {
  return std::chrono::system_clock::time_point{} + seconds(s);
}

// ---------------------------------------------------------------------------------------------------
// Token responses

TEST(ParseTokenResponse, ExpiresInAsNumberOrString) {
  const auto now = epoch_seconds(1'700'000'000);
  auto a = parse_token_response(R"({"access_token":"tok-a","expires_in":3599,"token_type":"Bearer"})", now);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->access_token, "tok-a");
  EXPECT_EQ(a->lifetime, seconds(3599));
  auto b = parse_token_response(R"({"access_token":"tok-b","expires_in":"86399"})", now);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->lifetime, seconds(86399));
}

TEST(ParseTokenResponse, ExpiresOnAsNumberOrStringIsRelativeToNow) {
  const auto now = epoch_seconds(1'700'000'000);
  auto a = parse_token_response(R"({"access_token":"t","expires_on":"1700003600","resource":"r"})", now);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->lifetime, seconds(3600));
  auto b = parse_token_response(R"({"access_token":"t","expires_on":1700000120})", now);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->lifetime, seconds(120));
}

TEST(ParseTokenResponse, ExpiresInWinsOverExpiresOn) {
  // IMDS sends both; expires_in is immune to clock skew between us and the endpoint.
  const auto now = epoch_seconds(1'700'000'000);
  auto t = parse_token_response(R"({"access_token":"t","expires_in":"600","expires_on":"1800000000"})", now);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->lifetime, seconds(600));
}

TEST(ParseTokenResponse, RejectsUnusableAnswers) {
  const auto now = epoch_seconds(1'700'000'000);
  EXPECT_FALSE(parse_token_response(R"({"expires_in":3600})", now));                       // no token
  EXPECT_FALSE(parse_token_response(R"({"access_token":"","expires_in":3600})", now));     // empty
  EXPECT_FALSE(parse_token_response(R"({"access_token":42,"expires_in":3600})", now));     // not a string
  EXPECT_FALSE(parse_token_response(R"({"access_token":"t"})", now));                      // no expiry
  EXPECT_FALSE(parse_token_response(R"({"access_token":"t","expires_in":"soon"})", now));  // garbage
  EXPECT_FALSE(parse_token_response(R"({"access_token":"t","expires_in":0})", now));       // expired
  EXPECT_FALSE(parse_token_response(R"({"access_token":"t","expires_on":"1699999999"})", now));  // past
  EXPECT_FALSE(parse_token_response(R"({"access_token":"a b","expires_in":60})", now));  // header-unsafe
  EXPECT_FALSE(parse_token_response("{\"access_token\":\"a\\r\\nx: y\",\"expires_in\":60}", now));
  EXPECT_FALSE(parse_token_response("not json", now));
  EXPECT_FALSE(parse_token_response("[1,2]", now));
  EXPECT_FALSE(parse_token_response("", now));
}

TEST(TokenErrorCode, OnlyShortIdentifiers) {
  EXPECT_EQ(token_error_code(R"({"error":"invalid_client","error_description":"AADSTS7000215: secret x"})"),
            "invalid_client");
  EXPECT_EQ(token_error_code(R"({"error":"Invalid Client <script>"})"), "");
  EXPECT_EQ(token_error_code(R"({"error":{"code":"x"}})"), "");
  EXPECT_EQ(token_error_code("oops"), "");
}

// ---------------------------------------------------------------------------------------------------
// Refresh window and backoff

TEST(RefreshMargin, IsHalfTheLifetimeCappedAtFiveMinutes) {
  EXPECT_EQ(refresh_margin(seconds(3)), milliseconds(1500));
  EXPECT_EQ(refresh_margin(minutes(8)), minutes(4));
  EXPECT_EQ(refresh_margin(minutes(10)), minutes(5));
  EXPECT_EQ(refresh_margin(std::chrono::hours(24)), minutes(5));
}

TEST(RetryBackoff, DoublesUpToThirtySeconds) {
  EXPECT_EQ(retry_backoff(1), seconds(1));
  EXPECT_EQ(retry_backoff(2), seconds(2));
  EXPECT_EQ(retry_backoff(3), seconds(4));
  EXPECT_EQ(retry_backoff(5), seconds(16));
  EXPECT_EQ(retry_backoff(6), seconds(30));
  EXPECT_EQ(retry_backoff(100), seconds(30));
}

// ---------------------------------------------------------------------------------------------------
// TokenCache decisions

using Action = TokenCache::Action;

TEST(TokenCache, OneCallerFetchesTheOthersWait) {
  util::ManualClock clock;
  TokenCache cache(clock, seconds(15));
  EXPECT_EQ(cache.acquire().action, Action::kFetch);
  EXPECT_EQ(cache.acquire().action, Action::kWait);
  EXPECT_EQ(cache.acquire().action, Action::kWait);
  EXPECT_TRUE(cache.peek().fetching);
  EXPECT_FALSE(cache.peek().value);
  cache.fetch_succeeded("Bearer t1", seconds(3600));
  auto peek = cache.peek();
  EXPECT_FALSE(peek.fetching);
  EXPECT_EQ(peek.value, "Bearer t1");
  auto d = cache.acquire();
  EXPECT_EQ(d.action, Action::kUse);
  EXPECT_EQ(d.value, "Bearer t1");
}

TEST(TokenCache, RefreshesOnceInsideTheWindowWhileTheTokenIsStillUsed) {
  util::ManualClock clock;
  TokenCache cache(clock, seconds(15));
  ASSERT_EQ(cache.acquire().action, Action::kFetch);
  clock.advance(seconds(2));                          // the fetch took 2 s
  cache.fetch_succeeded("Bearer t1", seconds(3600));  // lifetime counts from the fetch's start
  EXPECT_EQ(cache.expires_at(), std::chrono::steady_clock::time_point{} + seconds(3600));
  EXPECT_EQ(cache.refresh_at(), std::chrono::steady_clock::time_point{} + seconds(3600) - minutes(5));

  clock.advance(seconds(3600 - 300 - 2) - milliseconds(1));
  EXPECT_EQ(cache.acquire().action, Action::kUse);
  clock.advance(milliseconds(1));
  auto first = cache.acquire();
  EXPECT_EQ(first.action, Action::kUseAndRefresh);
  EXPECT_EQ(first.value, "Bearer t1");
  auto second = cache.acquire();  // a refresh is already in flight
  EXPECT_EQ(second.action, Action::kUse);
  EXPECT_EQ(second.value, "Bearer t1");

  cache.fetch_succeeded("Bearer t2", seconds(3600));
  auto after = cache.acquire();
  EXPECT_EQ(after.action, Action::kUse);
  EXPECT_EQ(after.value, "Bearer t2");
}

TEST(TokenCache, ShortLivedTokenRefreshesAfterHalfItsLifetime) {
  util::ManualClock clock;
  TokenCache cache(clock, seconds(15));
  ASSERT_EQ(cache.acquire().action, Action::kFetch);
  cache.fetch_succeeded("Bearer t1", seconds(3));
  clock.advance(milliseconds(1499));
  EXPECT_EQ(cache.acquire().action, Action::kUse);
  clock.advance(milliseconds(1));
  EXPECT_EQ(cache.acquire().action, Action::kUseAndRefresh);
}

TEST(TokenCache, FailedRefreshKeepsTheValidTokenAndRetriesWithBackoff) {
  util::ManualClock clock;
  TokenCache cache(clock, seconds(15));
  ASSERT_EQ(cache.acquire().action, Action::kFetch);
  cache.fetch_succeeded("Bearer t1", seconds(600));
  clock.advance(seconds(301));
  ASSERT_EQ(cache.acquire().action, Action::kUseAndRefresh);
  cache.fetch_failed();
  EXPECT_EQ(cache.consecutive_failures(), 1);
  auto d = cache.acquire();
  EXPECT_EQ(d.action, Action::kUse);  // no retry before the backoff (1 s) is over
  EXPECT_EQ(d.value, "Bearer t1");
  clock.advance(seconds(1));
  ASSERT_EQ(cache.acquire().action, Action::kUseAndRefresh);
  cache.fetch_failed();
  clock.advance(seconds(1));
  EXPECT_EQ(cache.acquire().action, Action::kUse);  // second failure: 2 s
  clock.advance(seconds(1));
  ASSERT_EQ(cache.acquire().action, Action::kUseAndRefresh);
  cache.fetch_succeeded("Bearer t2", seconds(600));
  EXPECT_EQ(cache.consecutive_failures(), 0);
  EXPECT_EQ(cache.acquire().value, "Bearer t2");
}

TEST(TokenCache, WithoutATokenFailuresAreUnavailableUntilTheBackoffEnds) {
  util::ManualClock clock;
  TokenCache cache(clock, seconds(15));
  ASSERT_EQ(cache.acquire().action, Action::kFetch);
  cache.fetch_failed();
  EXPECT_FALSE(cache.peek().fetching);  // waiters stop waiting
  EXPECT_EQ(cache.acquire().action, Action::kUnavailable);
  clock.advance(milliseconds(999));
  EXPECT_EQ(cache.acquire().action, Action::kUnavailable);
  clock.advance(milliseconds(1));
  ASSERT_EQ(cache.acquire().action, Action::kFetch);
  cache.fetch_failed();
  clock.advance(seconds(1));
  EXPECT_EQ(cache.acquire().action, Action::kUnavailable);
  clock.advance(seconds(1));
  EXPECT_EQ(cache.acquire().action, Action::kFetch);
}

TEST(TokenCache, ExpiredTokenIsNotUsed) {
  util::ManualClock clock;
  TokenCache cache(clock, seconds(15));
  ASSERT_EQ(cache.acquire().action, Action::kFetch);
  cache.fetch_succeeded("Bearer t1", seconds(10));
  clock.advance(seconds(10));
  EXPECT_FALSE(cache.peek().value);
  EXPECT_EQ(cache.acquire().action, Action::kFetch);
}

TEST(TokenCache, LostFetchStopsBlockingAfterStaleTime) {
  util::ManualClock clock;
  TokenCache cache(clock, seconds(15));
  ASSERT_EQ(cache.acquire().action, Action::kFetch);
  clock.advance(seconds(15));
  EXPECT_EQ(cache.acquire().action, Action::kWait);
  clock.advance(milliseconds(1));
  EXPECT_FALSE(cache.peek().fetching);
  EXPECT_EQ(cache.acquire().action, Action::kFetch);
}

// ---------------------------------------------------------------------------------------------------
// Requests

std::string header(const http::HeaderList& headers, std::string_view name) {
  return std::string(http::find_header(headers, name));
}

constexpr const char* kClientId = "11111111-2222-3333-4444-555555555555";

TEST(ManagedIdentityRequest, ImdsWhenNoAppServiceEnvironment) {
  config::ManagedIdentitySettings settings;
  settings.client_id = kClientId;
  std::string error;
  auto r = build_managed_identity_request(settings, {}, error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->method, "GET");
  EXPECT_FALSE(r->url.tls);
  EXPECT_EQ(r->url.host, "169.254.169.254");
  EXPECT_EQ(r->url.port, 80);
  EXPECT_EQ(r->target,
            "/metadata/identity/oauth2/token?api-version=2018-02-01"
            "&resource=https%3A%2F%2Fcognitiveservices.azure.com%2F&client_id=11111111-2222-3333-4444-"
            "555555555555");
  EXPECT_EQ(header(r->headers, "metadata"), "true");
  EXPECT_EQ(header(r->headers, "x-identity-header"), "");
  EXPECT_TRUE(r->body.empty());
}

TEST(ManagedIdentityRequest, SystemAssignedHasNoClientId) {
  config::ManagedIdentitySettings settings;
  settings.resource = "https://ai.azure.com/";
  std::string error;
  auto r = build_managed_identity_request(settings, {}, error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->target,
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fai.azure.com%2F");
}

TEST(ManagedIdentityRequest, AppServiceWhenBothVariablesAreSet) {
  config::ManagedIdentitySettings settings;
  settings.client_id = kClientId;
  IdentityEnvironment env{"http://127.0.0.1:41741/msi/token", "hdr-secret-1"};
  std::string error;
  auto r = build_managed_identity_request(settings, env, error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->url.host, "127.0.0.1");
  EXPECT_EQ(r->url.port, 41741);
  EXPECT_EQ(r->target,
            "/msi/token?resource=https%3A%2F%2Fcognitiveservices.azure.com%2F&api-version=2019-08-01"
            "&client_id=11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(header(r->headers, "x-identity-header"), "hdr-secret-1");
  EXPECT_EQ(header(r->headers, "metadata"), "");
}

TEST(ManagedIdentityRequest, OneVariableAloneMeansImds) {
  config::ManagedIdentitySettings settings;
  std::string error;
  auto a = build_managed_identity_request(settings, {"http://127.0.0.1:1/msi/token", std::nullopt}, error);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->url.host, "169.254.169.254");
  auto b = build_managed_identity_request(settings, {std::nullopt, "h"}, error);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->url.host, "169.254.169.254");
}

TEST(ManagedIdentityRequest, ConfiguredEndpointReplacesTheBaseUrl) {
  config::ManagedIdentitySettings settings;
  settings.endpoint = "https://[::1]:8443/metadata/identity/oauth2/token";
  settings.resource = "api://x y";
  std::string error;
  auto r = build_managed_identity_request(settings, {}, error);
  ASSERT_TRUE(r) << error;
  EXPECT_TRUE(r->url.tls);
  EXPECT_EQ(r->url.host, "::1");
  EXPECT_EQ(r->url.port, 8443);
  EXPECT_EQ(r->target, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api%3A%2F%2Fx%20y");
  EXPECT_EQ(header(r->headers, "metadata"), "true");
}

TEST(ManagedIdentityRequest, BadIdentityEndpointIsNamedNotEchoed) {
  config::ManagedIdentitySettings settings;
  std::string error;
  auto r = build_managed_identity_request(settings, {"ftp://secret-host/x", "h"}, error);
  EXPECT_FALSE(r);
  EXPECT_THAT(error, HasSubstr("IDENTITY_ENDPOINT"));
  EXPECT_THAT(error, Not(HasSubstr("secret-host")));
}

TEST(ClientCredentialsRequest, PostsAFormEncodedGrant) {
  config::ClientCredentialsSettings settings;
  settings.tenant_id = "contoso.onmicrosoft.com";
  settings.client_id = kClientId;
  settings.secret = "a+b/c=d&e f~%";
  settings.authority = "http://127.0.0.1:9999/";
  std::string error;
  auto r = build_client_credentials_request(settings, error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->url.host, "127.0.0.1");
  EXPECT_EQ(r->url.port, 9999);
  EXPECT_EQ(r->target, "/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(header(r->headers, "content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(r->body,
            "grant_type=client_credentials&client_id=11111111-2222-3333-4444-555555555555"
            "&client_secret=a%2Bb%2Fc%3Dd%26e%20f~%25"
            "&scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default");
}

TEST(ClientCredentialsRequest, DefaultAuthorityAndAuthorityPath) {
  config::ClientCredentialsSettings settings;
  settings.tenant_id = "t1";
  settings.client_id = kClientId;
  settings.secret = "s";
  std::string error;
  auto r = build_client_credentials_request(settings, error);
  ASSERT_TRUE(r) << error;
  EXPECT_TRUE(r->url.tls);
  EXPECT_EQ(r->url.host, "login.microsoftonline.com");
  EXPECT_EQ(r->url.port, 443);
  EXPECT_EQ(r->target, "/t1/oauth2/v2.0/token");
  settings.authority = "https://login.example/base";
  r = build_client_credentials_request(settings, error);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->target, "/base/t1/oauth2/v2.0/token");
}

TEST(ScopeForResource, AppendsDefault) {
  EXPECT_EQ(scope_for_resource("https://cognitiveservices.azure.com/"),
            "https://cognitiveservices.azure.com/.default");
  EXPECT_EQ(scope_for_resource("https://ai.azure.com"), "https://ai.azure.com/.default");
  EXPECT_EQ(scope_for_resource("api://x/.default"), "api://x/.default");
}

TEST(ParseTokenUrl, AcceptsHttpAndHttpsOnly) {
  auto a = parse_token_url("HTTP://Example.com");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "Example.com");
  EXPECT_EQ(a->port, 80);
  EXPECT_EQ(a->path, "/");
  EXPECT_FALSE(parse_token_url("ftp://x/"));
  EXPECT_FALSE(parse_token_url("http://"));
  EXPECT_FALSE(parse_token_url("http://x:/"));
  EXPECT_FALSE(parse_token_url("http://x:70000/"));
  EXPECT_FALSE(parse_token_url("http://x/a?b=c"));
  EXPECT_FALSE(parse_token_url("http://u:p@x/"));
  EXPECT_FALSE(parse_token_url("http://x/a b"));
  EXPECT_FALSE(parse_token_url("http://[::1/"));
}

// ---------------------------------------------------------------------------------------------------
// The credential over a fake token source

// Answers each fetch after `delay` with the next scripted token (nullopt = failure). Counts fetches.
class FakeSource final : public TokenSource {
 public:
  explicit FakeSource(milliseconds delay) : delay_(delay) {}
  void push(std::optional<ParsedToken> t) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(t));
  }
  net::awaitable<std::optional<ParsedToken>> fetch() override {
    ++fetches_;
    auto executor = co_await net::this_coro::executor;
    net::steady_timer timer(executor, delay_);
    co_await timer.async_wait(net::use_awaitable);
    std::optional<ParsedToken> next;
    {
      std::lock_guard lock(mutex_);
      if (!script_.empty()) {
        next = std::move(script_.front());
        script_.pop_front();
      }
    }
    co_return next;
  }
  int fetches() const { return fetches_.load(); }

 private:
  milliseconds delay_;
  std::mutex mutex_;
  std::deque<std::optional<ParsedToken>> script_;
  std::atomic<int> fetches_{0};
};

// Runs `n` concurrent header() calls on an io_context served by `threads` threads; returns their results.
std::vector<std::optional<CredentialHeader>> run_headers(BackendCredential& credential, int n, int threads) {
  net::io_context io;
  std::vector<std::optional<CredentialHeader>> results(n);
  for (int i = 0; i < n; ++i) {
    net::co_spawn(
        io,
        [&credential, &results, i]() -> net::awaitable<void> { results[i] = co_await credential.header(); },
        net::detached);
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& th : pool) th.join();
  return results;
}

TEST(TokenCredential, ConcurrentCallersShareOneFetch) {
  util::ManualClock clock;
  auto source = std::make_unique<FakeSource>(milliseconds(30));
  FakeSource& fake = *source;
  fake.push(ParsedToken{"tok-1", seconds(3600)});
  auto credential = make_token_credential(std::move(source), clock);
  auto results = run_headers(*credential, 50, 2);
  EXPECT_EQ(fake.fetches(), 1);
  for (const auto& r : results) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->name, "authorization");
    EXPECT_EQ(r->value, "Bearer tok-1");
  }
  // Cached afterwards: no more fetches.
  results = run_headers(*credential, 10, 1);
  EXPECT_EQ(fake.fetches(), 1);
  EXPECT_EQ(results[9]->value, "Bearer tok-1");
}

TEST(TokenCredential, RefreshRunsInTheBackgroundWhileTheOldTokenServes) {
  util::ManualClock clock;
  auto source = std::make_unique<FakeSource>(milliseconds(20));
  FakeSource& fake = *source;
  fake.push(ParsedToken{"tok-1", seconds(600)});
  fake.push(ParsedToken{"tok-2", seconds(600)});
  auto credential = make_token_credential(std::move(source), clock);
  ASSERT_EQ(run_headers(*credential, 1, 1)[0]->value, "Bearer tok-1");
  clock.advance(seconds(301));                   // inside the 5-minute window
  auto during = run_headers(*credential, 5, 1);  // runs until the background refresh is done
  EXPECT_EQ(fake.fetches(), 2);
  for (const auto& r : during) EXPECT_EQ(r->value, "Bearer tok-1");
  EXPECT_EQ(run_headers(*credential, 1, 1)[0]->value, "Bearer tok-2");
  EXPECT_EQ(fake.fetches(), 2);
}

TEST(TokenCredential, NoTokenMeansNulloptAndBackoffBeforeTheNextFetch) {
  util::ManualClock clock;
  auto source = std::make_unique<FakeSource>(milliseconds(10));
  FakeSource& fake = *source;
  fake.push(std::nullopt);
  fake.push(ParsedToken{"tok-ok", seconds(600)});
  auto credential = make_token_credential(std::move(source), clock);
  auto first = run_headers(*credential, 8, 2);  // one fetch, every caller sees the failure
  EXPECT_EQ(fake.fetches(), 1);
  for (const auto& r : first) EXPECT_FALSE(r);
  EXPECT_FALSE(run_headers(*credential, 1, 1)[0]);  // within the backoff: no fetch
  EXPECT_EQ(fake.fetches(), 1);
  clock.advance(seconds(1));
  auto later = run_headers(*credential, 1, 1);
  EXPECT_EQ(fake.fetches(), 2);
  ASSERT_TRUE(later[0]);
  EXPECT_EQ(later[0]->value, "Bearer tok-ok");
}

TEST(MakeBackendCredential, StaticKeys) {
  config::Backend backend;
  backend.name = "b";
  backend.auth.kind = config::BackendAuth::Kind::kApiKeyEnv;
  backend.auth.secret = "k1";
  auto r = run_headers(*make_backend_credential(backend), 1, 1)[0];
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "api-key");
  EXPECT_EQ(r->value, "k1");
  backend.auth.kind = config::BackendAuth::Kind::kBearerEnv;
  r = run_headers(*make_backend_credential(backend), 1, 1)[0];
  EXPECT_EQ(r->name, "authorization");
  EXPECT_EQ(r->value, "Bearer k1");
  backend.auth.kind = config::BackendAuth::Kind::kNone;
  r = run_headers(*make_backend_credential(backend), 1, 1)[0];
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "");
}

// A static key is handed out without a coroutine (fixed_header), and it is the same header that header()
// gives; a token credential has none, since its header changes.
TEST(MakeBackendCredential, StaticKeysAreFixed) {
  config::Backend backend;
  backend.name = "b";
  backend.auth.kind = config::BackendAuth::Kind::kBearerEnv;
  backend.auth.secret = "k2";
  auto credential = make_backend_credential(backend);
  const std::optional<CredentialHeader>* fixed = credential->fixed_header();
  ASSERT_NE(fixed, nullptr);
  ASSERT_TRUE(*fixed);
  EXPECT_EQ((*fixed)->name, "authorization");
  EXPECT_EQ((*fixed)->value, "Bearer k2");
  EXPECT_EQ(credential->fixed_header(), fixed);  // the same object every time: views of it stay valid
  auto r = run_headers(*credential, 1, 1)[0];
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value, (*fixed)->value);

  backend.auth.kind = config::BackendAuth::Kind::kClientCredentials;
  backend.auth.client_credentials.tenant_id = "t";
  backend.auth.client_credentials.client_id = "c";
  backend.auth.client_credentials.secret = "s";
  backend.auth.client_credentials.authority = "http://127.0.0.1:9";  // never asked: nothing calls header()
  EXPECT_EQ(make_backend_credential(backend)->fixed_header(), nullptr);

  backend.auth.client_credentials.authority = "not-a-url";  // unusable: always unavailable, fixed as such
  const auto unusable = make_backend_credential(backend);   // kept: `fixed` points into it
  fixed = unusable->fixed_header();
  ASSERT_NE(fixed, nullptr);
  EXPECT_FALSE(*fixed);
}

TEST(MakeBackendCredential, UnusableTokenEndpointIsUnavailable) {
  config::Backend backend;
  backend.name = "b";
  backend.auth.kind = config::BackendAuth::Kind::kClientCredentials;
  backend.auth.client_credentials.tenant_id = "t";
  backend.auth.client_credentials.authority = "not-a-url";
  EXPECT_FALSE(run_headers(*make_backend_credential(backend), 1, 1)[0]);
}

}  // namespace
}  // namespace spillway::auth
