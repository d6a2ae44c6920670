#pragma once
// The gateway's request handler, one per worker: route -> policies -> upstream call (streamed) ->
// client, then the access-log record. Owns that worker's upstream connection pools.

#include <memory>
#include <random>
#include <string>
#include <unordered_map>

#include "api/errors.h"
#include "http/server.h"
#include "http/upstream.h"
#include "proxy/gateway.h"

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
  boost::asio::awaitable<void> forward(pipeline::RequestContext& ctx, const config::Pool& pool,
                                       http::Request& request, http::ResponseWriter& writer,
                                       std::size_t policies_ran);
  boost::asio::awaitable<void> send_error(pipeline::RequestContext& ctx, const api::ApiError& error,
                                          http::ResponseWriter& writer);
  std::string new_request_id();
  http::UpstreamPool& pool_for(const config::Backend& backend);

  std::shared_ptr<const Gateway> gateway_;
  std::unordered_map<std::string, std::unique_ptr<http::UpstreamPool>> pools_;  // by backend name
  std::mt19937_64 rng_;
};

}  // namespace spillway::proxy
