#include "auth/token_credential.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <utility>

#include "auth/token_cache.h"
#include "http/upstream.h"
#include "util/log.h"

namespace spillway::auth {
namespace {

namespace net = boost::asio;

constexpr std::size_t kMaxTokenResponse = 1024 * 1024;

class HttpTokenSource final : public TokenSource {
 public:
  HttpTokenSource(std::string backend, std::string label, TokenRequest request)
      : backend_(std::move(backend)), label_(std::move(label)), request_(std::move(request)) {}

  net::awaitable<std::optional<ParsedToken>> fetch() override {
    try {
      std::optional<ParsedToken> token = co_await fetch_once();
      co_return token;
    } catch (const std::exception& e) {
      fail(std::string("error: ") + e.what());
    }
    co_return std::nullopt;
  }

 private:
  net::awaitable<std::optional<ParsedToken>> fetch_once() {
    http::UpstreamEndpoint endpoint;
    endpoint.host = request_.url.host;
    endpoint.port = request_.url.port;
    endpoint.tls = request_.url.tls;
    endpoint.tls_verify = true;
    // Pools are single-threaded: this one belongs to this call, on this worker.
    std::unique_ptr<http::UpstreamPool> pool = http::make_upstream_pool(endpoint, 1);
    http::UpstreamRequest upstream;
    upstream.method = request_.method;
    upstream.target = request_.target;
    upstream.headers = request_.headers;
    upstream.body = request_.body;
    http::UpstreamTimeouts timeouts;
    timeouts.connect = kTokenConnectTimeout;
    timeouts.first_byte = kTokenTotalTimeout;
    timeouts.idle = kTokenTotalTimeout;
    timeouts.total = kTokenTotalTimeout;
    http::UpstreamResult result = co_await pool->send(upstream, timeouts);
    if (result.error != http::UpstreamError::kNone) {
      fail(std::string(http::upstream_error_name(result.error)));
      co_return std::nullopt;
    }
    std::string body;
    const http::UpstreamError read_error = co_await result.exchange->read_all(body, kMaxTokenResponse);
    const int status = result.exchange->status();
    result.exchange.reset();
    if (read_error != http::UpstreamError::kNone) {
      fail(std::string(http::upstream_error_name(read_error)) + " reading the response (HTTP " +
           std::to_string(status) + ")");
      co_return std::nullopt;
    }
    if (status != 200) {
      std::string reason = "HTTP " + std::to_string(status);
      if (std::string code = token_error_code(body); !code.empty()) reason += " (" + code + ")";
      fail(reason);
      co_return std::nullopt;
    }
    std::optional<ParsedToken> token = parse_token_response(body, std::chrono::system_clock::now());
    if (!token) {
      fail("HTTP 200 without a usable access_token and expiry");
      co_return std::nullopt;
    }
    util::log_info("backend " + backend_ + ": " + label_ + " token obtained, valid for " +
                   std::to_string(token->lifetime.count()) + "s");
    co_return token;
  }

  // `reason` never holds a token or secret: statuses, error names and OAuth2 error codes only.
  void fail(const std::string& reason) const {
    util::log_warn("backend " + backend_ + ": " + label_ + " token request to " + request_.url.host +
                   " failed: " + reason);
  }

  std::string backend_;
  std::string label_;
  TokenRequest request_;
};

class TokenCredential final : public BackendCredential, public std::enable_shared_from_this<TokenCredential> {
 public:
  TokenCredential(std::unique_ptr<TokenSource> source, const util::Clock& clock)
      : source_(std::move(source)), cache_(clock, kTokenTotalTimeout + std::chrono::seconds(5)) {}

  net::awaitable<std::optional<CredentialHeader>> header() override {
    TokenCache::Decision decision = cache_.acquire();
    std::optional<std::string> value;
    switch (decision.action) {
      case TokenCache::Action::kUse:
        value = std::move(decision.value);
        break;
      case TokenCache::Action::kUseAndRefresh: {
        value = std::move(decision.value);
        auto executor = co_await net::this_coro::executor;
        std::shared_ptr<TokenCredential> self = shared_from_this();
        net::co_spawn(executor, background_refresh(std::move(self)), net::detached);
        break;
      }
      case TokenCache::Action::kFetch:
        value = co_await fetch_and_store();
        break;
      case TokenCache::Action::kWait:
        value = co_await wait_for_fetch();
        break;
      case TokenCache::Action::kUnavailable:
        break;
    }
    if (!value) co_return std::nullopt;
    CredentialHeader header{"authorization", std::move(*value)};
    co_return header;
  }

 private:
  static net::awaitable<void> background_refresh(std::shared_ptr<TokenCredential> self) {
    std::optional<std::string> ignored = co_await self->fetch_and_store();
    (void)ignored;
  }

  // Runs the fetch acquire() asked for and reports it to the cache.
  net::awaitable<std::optional<std::string>> fetch_and_store() {
    std::optional<ParsedToken> token;
    try {
      token = co_await source_->fetch();
    } catch (...) {
      token.reset();
    }
    if (!token) {
      cache_.fetch_failed();
      co_return std::nullopt;
    }
    std::string value = "Bearer " + token->access_token;
    cache_.fetch_succeeded(value, token->lifetime);
    co_return value;
  }

  // Another caller is fetching: poll the shared state until a token is there or the fetch is over.
  net::awaitable<std::optional<std::string>> wait_for_fetch() {
    auto executor = co_await net::this_coro::executor;
    net::steady_timer timer(executor);
    const int max_polls = static_cast<int>((kTokenTotalTimeout + std::chrono::seconds(1)) / kTokenWaitPoll);
    for (int i = 0; i < max_polls; ++i) {
      timer.expires_after(kTokenWaitPoll);
      auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
      if (ec) co_return std::nullopt;  // shutting down
      TokenCache::Peek peek = cache_.peek();
      if (peek.value) co_return std::move(peek.value);
      if (!peek.fetching) co_return std::nullopt;
    }
    co_return std::nullopt;
  }

  std::unique_ptr<TokenSource> source_;
  TokenCache cache_;
};

}  // namespace

std::unique_ptr<TokenSource> make_http_token_source(std::string backend, std::string label,
                                                    TokenRequest request) {
  return std::make_unique<HttpTokenSource>(std::move(backend), std::move(label), std::move(request));
}

std::shared_ptr<BackendCredential> make_token_credential(std::unique_ptr<TokenSource> source,
                                                         const util::Clock& clock) {
  return std::make_shared<TokenCredential>(std::move(source), clock);
}

}  // namespace spillway::auth
