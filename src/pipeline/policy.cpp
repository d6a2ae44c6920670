#include "pipeline/policy.h"

#include <exception>
#include <string>

#include "util/log.h"

namespace spillway::pipeline {

boost::asio::awaitable<std::optional<Reply>> Policy::on_request_async(RequestContext& ctx) {
  co_return on_request(ctx);
}

boost::asio::awaitable<std::optional<Reply>> Chain::run_request(RequestContext& ctx, std::size_t& ran) const {
  ran = 0;
  for (const auto& policy : policies_) {
    ++ran;
    // No co_await inside a conditional expression: GCC 12 miscompiles that (double destruction).
    std::optional<Reply> reply;
    if (policy->needs_io(ctx)) {
      reply = co_await policy->on_request_async(ctx);
    } else {
      reply = policy->on_request(ctx);
    }
    if (reply) co_return reply;
  }
  co_return std::nullopt;
}

void Chain::response(RequestContext& ctx, http::HeaderList& headers, std::size_t ran) const {
  for (std::size_t i = 0; i < ran; ++i) policies_[i]->on_response(ctx, headers);
}

void Chain::chunk(RequestContext& ctx, const http::SseEvent& event, std::size_t ran) const {
  for (std::size_t i = 0; i < ran; ++i) policies_[i]->on_chunk(ctx, event);
}

void Chain::complete(RequestContext& ctx, std::size_t ran) const {
  for (std::size_t i = ran; i-- > 0;) {
    try {
      policies_[i]->on_complete(ctx);
    } catch (const std::exception& e) {
      util::log_error("policy " + std::string(policies_[i]->name()) + " on_complete failed for request " +
                      ctx.request_id + ": " + e.what());
    }
  }
}

}  // namespace spillway::pipeline
