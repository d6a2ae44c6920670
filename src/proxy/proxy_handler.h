#pragma once
// The gateway's request handler, one per worker: route -> policies -> upstream call (streamed) ->
// client, then the access-log record. Owns that worker's upstream connection pools.

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>

#include "api/errors.h"
#include "http/server.h"
#include "http/upstream.h"
#include "proxy/gateway.h"
#include "routing/pool_router.h"

namespace spillway::proxy {

class ProxyHandler final : public http::Handler {
 public:
  explicit ProxyHandler(std::shared_ptr<const Gateway> gateway);
  ~ProxyHandler() override;

  // http::Handler
  boost::asio::awaitable<void> handle(http::Request& request, http::ResponseWriter& writer) override;
  http::Response protocol_error(http::ProtocolError error, std::string_view detail) override;
  void shutdown() override;

 private:
  // What the attempts of one request ran into, for the answer when no member could serve it.
  struct Failures {
    int total = 0;  // attempts that failed (credential, connect, timeout, retryable status)
    int timeouts = 0;
    int rate_limited = 0;  // 429 answers
    std::optional<std::chrono::milliseconds> soonest_retry_after;
    std::optional<http::Response> last_response;  // the last retryable backend answer, if read whole
  };

  // handle()'s steps that do not wait (see proxy_handler.cpp), on the request's config snapshot.
  std::optional<pipeline::Reply> begin(const config::Config& cfg, pipeline::RequestContext& ctx,
                                       http::Request& request, std::unique_ptr<api::ApiError>& body_error);
  const config::Pool* choose_pool(const config::Config& cfg, pipeline::RequestContext& ctx,
                                  std::optional<pipeline::Reply>& reply,
                                  const api::ApiError* body_error) const;
  boost::asio::awaitable<bool> try_member(pipeline::RequestContext& ctx, const config::Pool& pool,
                                          const routing::Pick& pick, routing::PoolRouter& router,
                                          http::Request& request, http::ResponseWriter& writer,
                                          std::size_t policies_ran, Failures& failures);
  boost::asio::awaitable<void> relay(pipeline::RequestContext& ctx, http::UpstreamExchange& exchange,
                                     const config::Backend& backend, bool drop_usage_chunk,
                                     http::ResponseWriter& writer, std::size_t policies_ran);
  boost::asio::awaitable<void> relay_stream(pipeline::RequestContext& ctx, http::UpstreamExchange& exchange,
                                            const config::Backend& backend, bool drop_usage_chunk,
                                            http::ResponseWriter& writer, std::size_t policies_ran,
                                            http::HeaderList& headers, std::size_t from_backend);
  boost::asio::awaitable<void> answer_failure(pipeline::RequestContext& ctx, routing::PoolRouter& router,
                                              Failures& failures, http::ResponseWriter& writer);
  boost::asio::awaitable<void> forward(pipeline::RequestContext& ctx, const config::Pool& pool,
                                       http::Request& request, http::ResponseWriter& writer,
                                       std::size_t policies_ran);
  boost::asio::awaitable<void> send_error(pipeline::RequestContext& ctx, const api::ApiError& error,
                                          http::ResponseWriter& writer);
  std::string new_request_id();
  http::UpstreamPool& pool_for(const config::Backend& backend);

  // Writes this worker's buffered access-log lines (util/log.h) kAccessLogDelay after the first of them.
  void flush_access_log_soon(const boost::asio::any_io_executor& executor);

  std::shared_ptr<const Gateway> gateway_;
  std::unordered_map<std::string, std::unique_ptr<http::UpstreamPool>> pools_;  // by backend name
  std::mt19937_64 rng_;
  struct AccessFlush;  // the timer, created on this worker's first request
  static void arm_access_flush(AccessFlush& f, std::chrono::steady_clock::duration delay);
  std::unique_ptr<AccessFlush> access_flush_;
};

}  // namespace spillway::proxy
