#pragma once
// A policy is one step of the request pipeline (authenticate, limit, log ...). Immutable; one instance per
// config snapshot; per-request state lives in RequestContext. See shared/STYLE.md.

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "http/sse.h"
#include "http/types.h"
#include "pipeline/request_context.h"

namespace spillway::pipeline {

// An answer a policy gives instead of forwarding the request (a rejection, a cache hit).
using Reply = http::Response;

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;
  // Whether on_request_async runs for this request instead of on_request (sync policies cost no coroutine
  // frame).
  virtual bool needs_io(const RequestContext&) const { return false; }
  // Before the upstream call; a Reply answers now.
  virtual std::optional<Reply> on_request(RequestContext&) { return std::nullopt; }
  virtual boost::asio::awaitable<std::optional<Reply>> on_request_async(RequestContext& ctx);
  // Just before the response head goes to the client (after the body for non-streamed responses, so usage
  // is known then; before the first event for streams). May add headers.
  virtual void on_response(RequestContext&, http::HeaderList&) {}
  // Each SSE event of a streamed response, in order, before it is forwarded. Never blocks.
  virtual void on_chunk(RequestContext&, const http::SseEvent&) {}
  // Exactly once for every policy whose on_request ran, whatever happened (in reverse order).
  virtual void on_complete(RequestContext&) {}
};

// The ordered policies of one config snapshot.
class Chain {
 public:
  explicit Chain(std::vector<std::unique_ptr<Policy>> policies) : policies_(std::move(policies)) {}

  // Runs on_request in order until one replies. `ran` receives how many policies ran (for complete()).
  boost::asio::awaitable<std::optional<Reply>> run_request(RequestContext& ctx, std::size_t& ran) const;
  // on_response for the first `ran` policies, in order.
  void response(RequestContext& ctx, http::HeaderList& headers, std::size_t ran) const;
  // on_chunk for the first `ran` policies, in order.
  void chunk(RequestContext& ctx, const http::SseEvent& event, std::size_t ran) const;
  // on_complete for the first `ran` policies, last first. Never throws.
  void complete(RequestContext& ctx, std::size_t ran) const;

 private:
  std::vector<std::unique_ptr<Policy>> policies_;
};

}  // namespace spillway::pipeline
