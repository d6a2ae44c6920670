#include "proxy/proxy_handler.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <string>

#include "api/errors.h"
#include "api/request_body.h"
#include "api/rewrite.h"
#include "api/route.h"
#include "api/usage.h"
#include "http/sse.h"
#include "pipeline/reply.h"
#include "proxy/access_log.h"
#include "util/ascii.h"
#include "util/json.h"
#include "util/log.h"

namespace spillway::proxy {
namespace {

using Clock = std::chrono::steady_clock;

// The body of a retried backend error kept for the client when no other member answers.
constexpr std::size_t kMaxRetainedErrorBody = 64 * 1024;

bool valid_client_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

bool is_event_stream(const http::HeaderList& headers) {
  const std::string_view type = http::find_header(headers, "content-type");
  return type.substr(0, 17) == "text/event-stream";
}

http::UpstreamTimeouts upstream_timeouts(const config::Timeouts& t) {
  return {.connect = t.connect, .first_byte = t.first_byte, .idle = t.idle, .total = t.total};
}

std::string models_list(const config::Config& cfg) {
  std::string body = "{\"object\":\"list\",\"data\":[";
  bool first = true;
  for (const auto& [name, pool] : cfg.pools) {
    if (!first) body.push_back(',');
    first = false;
    body += "{\"id\":";
    util::append_json_string(body, name);
    body += ",\"object\":\"model\",\"created\":0,\"owned_by\":\"spillway\"}";
  }
  body += "]}";
  return body;
}

// The gateway's own headers win over the backend's of the same name (e.g. x-ratelimit-remaining-tokens of a
// token limit and of the backend's deployment): removes headers[0, from_backend) that appear after it.
void drop_overridden_headers(http::HeaderList& headers, std::size_t from_backend) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < from_backend; ++i) {
    bool overridden = false;
    for (std::size_t j = from_backend; j < headers.size() && !overridden; ++j) {
      overridden = headers[j].first == headers[i].first;
    }
    if (!overridden) {
      if (kept != i) headers[kept] = std::move(headers[i]);
      ++kept;
    }
  }
  headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(kept),
                headers.begin() + static_cast<std::ptrdiff_t>(from_backend));
}

// The SSE event sent when the backend fails after the stream has started (OpenAI streams errors the same
// way: a data event with an "error" object).
std::string stream_error_event(const api::ApiError& error) {
  return "data: " + api::error_body(error) + "\n\n";
}

// The client's fields that go upstream: not hop-by-hop or named by its Connection header, not the ones the
// gateway writes itself (x-request-id, the backend's credential, ...), not the ones a policy removes or sets.
// Not in a coroutine, so that the Connection options stay off its frame.
void add_forwarded_request_headers(const http::HeaderList& from, const pipeline::RequestContext& ctx,
                                   std::vector<std::pair<std::string_view, std::string_view>>& to) {
  auto policy_owned = [&ctx](const std::string& name) {
    for (const auto& r : ctx.upstream_remove_headers) {
      if (r == name) return true;
    }
    for (const auto& h : ctx.upstream_set_headers) {
      if (h.first == name) return true;
    }
    return false;
  };
  const api::ConnectionOptions hop_only(from);
  for (const auto& h : from) {
    if (api::forward_request_header(h.first) && h.first != "x-request-id" && !policy_owned(h.first) &&
        !hop_only.lists(h.first)) {
      to.emplace_back(h.first, h.second);
    }
  }
}

// The backend's fields that go back to the client: not hop-by-hop or named by its Connection header, not its
// framing. Not in a coroutine, as above.
void add_forwarded_response_headers(const http::HeaderList& from, http::HeaderList& to) {
  const api::ConnectionOptions hop_only(from);
  for (const auto& h : from) {
    if (api::forward_response_header(h.first) && !hop_only.lists(h.first)) to.push_back(h);
  }
}

}  // namespace

// GCC 12 may destroy temporaries of a full-expression that contains co_await twice: in coroutines here,
// arguments of awaited calls are named variables, never temporaries.
boost::asio::awaitable<void> ProxyHandler::send_error(pipeline::RequestContext& ctx,
                                                      const api::ApiError& error,
                                                      http::ResponseWriter& writer) {
  ctx.error_code = error.code;
  pipeline::Reply reply = pipeline::error_reply(error);
  reply.headers.emplace_back("x-request-id", ctx.request_id);
  ctx.status = reply.status;
  const bool sent = co_await writer.send(std::move(reply));
  if (!sent) ctx.client_disconnected = true;
}

// How long a worker's first buffered access-log line waits for others to share its write(2). On ext4 a
// write of one 480-byte line cost 1.7 us of kernel time, of ten lines 0.3 us per line, of 64 KiB 0.1 us
// (mostly per call: the inode's times, the journal, the page cache's lookups). Per event-loop turn, which
// is what the lines used to wait for, a worker wrote one line per call at one connection, about ten at 64.
constexpr auto kAccessLogDelay = std::chrono::milliseconds(10);

struct ProxyHandler::AccessFlush {
  explicit AccessFlush(const boost::asio::any_io_executor& executor) : timer(executor) {}
  boost::asio::steady_timer timer;
  bool armed = false;
};

ProxyHandler::ProxyHandler(std::shared_ptr<const Gateway> gateway)
    : gateway_(std::move(gateway)), rng_(std::random_device{}()) {}

ProxyHandler::~ProxyHandler() = default;

void ProxyHandler::flush_access_log_soon(const boost::asio::any_io_executor& executor) {
  if (!access_flush_) access_flush_ = std::make_unique<AccessFlush>(executor);
  AccessFlush& f = *access_flush_;
  if (f.armed) return;  // the buffer was written meanwhile: the next lines join the pending write
  arm_access_flush(f, kAccessLogDelay);
}

void ProxyHandler::arm_access_flush(AccessFlush& f, std::chrono::steady_clock::duration delay) {
  f.armed = true;
  f.timer.expires_after(delay);
  // On this worker's thread, whose buffer it is. Cancelled only by the handler going away (at exit, after
  // the worker's loop stopped): the thread's buffer is written when the thread ends.
  f.timer.async_wait([&f](const boost::system::error_code& ec) {
    if (ec) return;
    f.armed = false;
    // Lines written while a backend worked (util::write_access_log_if_due) since the timer was set: the
    // ones left are younger, and get their own 10 ms.
    const auto since = util::access_log_since();
    if (!since) return;
    const auto left = *since + kAccessLogDelay - std::chrono::steady_clock::now();
    if (left > std::chrono::milliseconds(1)) {
      arm_access_flush(f, left);
      return;
    }
    util::flush_access_log();
  });
}

std::string ProxyHandler::new_request_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng_();
    for (int i = 0; i < 16; ++i, v >>= 4) id[half * 16 + i] = kHex[v & 0xF];
  }
  return id;
}

http::UpstreamPool& ProxyHandler::pool_for(const config::Backend& backend) {
  auto it = pools_.find(backend.name);
  if (it == pools_.end()) {
    http::UpstreamEndpoint endpoint{.host = backend.host,
                                    .port = backend.port,
                                    .tls = backend.tls,
                                    .tls_verify = backend.tls_verify,
                                    .ca_file = backend.ca_file};
    it = pools_.emplace(backend.name, http::make_upstream_pool(endpoint)).first;
  }
  return *it->second;
}

void ProxyHandler::shutdown() { pools_.clear(); }

http::Response ProxyHandler::protocol_error(http::ProtocolError error, std::string_view detail) {
  api::ApiError e;
  switch (error) {
    case http::ProtocolError::kMalformed:
      e = api::errors::bad_request_line(detail);
      break;
    case http::ProtocolError::kBodyTooLarge:
      e = api::errors::body_too_large(gateway_->config.server.max_body);
      break;
    case http::ProtocolError::kHeadersTooLarge:
      e = api::errors::bad_request_line("request headers are too large");
      e.status = 431;
      break;
    case http::ProtocolError::kShuttingDown:
      e = api::errors::shutting_down();
      break;
    case http::ProtocolError::kInternal:
      e = api::errors::internal_error();
      break;
  }
  http::Response response = pipeline::error_reply(e);
  response.headers.emplace_back("x-request-id", new_request_id());
  return response;
}

// handle()'s steps that do not wait, kept out of its coroutine frame: every local of a coroutine lives in
// its frame, and a frame over 1020 bytes misses Asio's per-thread recycling (an aligned allocation and
// free per request instead).

// The request id, the route and the parsed body. Returns the answer for a request that matched no route;
// a body that does not parse leaves its error in `body_error` (answered after the policies ran: an
// unauthenticated client gets 401, not a verdict on its body).
std::optional<pipeline::Reply> ProxyHandler::begin(const config::Config& cfg, pipeline::RequestContext& ctx,
                                                   http::Request& request,
                                                   std::unique_ptr<api::ApiError>& body_error) {
  ctx.request = &request;
  ctx.started = Clock::now();
  ctx.started_at = std::chrono::system_clock::now();
  const std::string_view client_id =
      request.headers.empty() ? std::string_view{} : http::find_header(request.headers, "x-request-id");
  ctx.request_id = valid_client_request_id(client_id) ? std::string(client_id) : new_request_id();

  auto routed = api::match_route(cfg.apis, request.method, request.target);
  if (auto* error = std::get_if<api::ApiError>(&routed)) {
    ctx.error_code = error->code;
    return pipeline::error_reply(*error);
  }
  ctx.route = std::move(std::get<api::Route>(routed));
  // The body is parsed once, here, so every policy reads ctx.fields.
  if (ctx.route.op != api::Operation::kModels) {
    // A compressed body can be neither read for its model nor forwarded after an edit with its coding
    // still named (the backend would decode plain JSON): refused, after authentication like a bad body.
    if (const std::string_view coding = http::find_header(request.headers, "content-encoding");
        !coding.empty() && !util::ascii_iequals(coding, "identity")) {
      body_error = std::make_unique<api::ApiError>(api::errors::unsupported_content_encoding());
      return std::nullopt;
    }
    auto inspected = api::inspect_body(request.body, ctx.route);
    if (auto* error = std::get_if<api::ApiError>(&inspected)) {
      body_error = std::make_unique<api::ApiError>(std::move(*error));
    } else {
      ctx.fields = std::move(std::get<api::RequestFields>(inspected));
      ctx.pool = ctx.route.model_in_body ? ctx.fields.model : ctx.route.deployment;
      ctx.tools = ctx.fields.tools;
      ctx.body_valid = true;
    }
  }
  return std::nullopt;
}

// After the policies let the request through (`reply` empty): the answer the gateway gives itself (the
// models list, a bad body's error, an unknown model) in `reply`, else the pool to forward to.
const config::Pool* ProxyHandler::choose_pool(const config::Config& cfg, pipeline::RequestContext& ctx,
                                              std::optional<pipeline::Reply>& reply,
                                              const api::ApiError* body_error) const {
  if (!reply && ctx.route.op == api::Operation::kModels) {
    reply = pipeline::Reply{
        .status = 200, .headers = {{"content-type", "application/json"}}, .body = models_list(cfg)};
  }
  if (reply) return nullptr;
  if (body_error != nullptr) {
    ctx.error_code = body_error->code;
    reply = pipeline::error_reply(*body_error);
    return nullptr;
  }
  auto it = cfg.pools.find(ctx.pool);
  if (it == cfg.pools.end()) {
    const api::ApiError error = api::errors::unknown_model(ctx.pool);
    ctx.error_code = error.code;
    reply = pipeline::error_reply(error);
    return nullptr;
  }
  return &it->second;
}

boost::asio::awaitable<void> ProxyHandler::handle(http::Request& request, http::ResponseWriter& writer) {
  // Keep the snapshot alive for the whole request even if a reload swaps it.
  const std::shared_ptr<const Gateway> gateway = gateway_;
  // On the heap: at 864 bytes it alone would put this coroutine's frame over Asio's recycling limit.
  const auto owned_ctx = std::make_unique<pipeline::RequestContext>();
  pipeline::RequestContext& ctx = *owned_ctx;

  std::unique_ptr<api::ApiError> body_error;
  std::optional<pipeline::Reply> reply = begin(gateway->config, ctx, request, body_error);
  std::size_t ran = 0;
  if (!reply) {
    reply = co_await gateway->chain.run_request(ctx, ran);
    // The parsed body served the request policies; give its parser back to the worker's pool now rather
    // than holding it while the backend answers (requests in flight would each keep one).
    ctx.fields.document.reset();
  }
  const config::Pool* pool = choose_pool(gateway->config, ctx, reply, body_error.get());

  if (reply) {
    for (const auto& h : ctx.response_headers) reply->headers.push_back(h);
    gateway->chain.response(ctx, reply->headers, ran);
    reply->headers.emplace_back("x-request-id", ctx.request_id);
    ctx.status = reply->status;
    const bool sent = co_await writer.send(std::move(*reply));
    if (!sent) ctx.client_disconnected = true;
  } else {
    co_await forward(ctx, *pool, request, writer, ran);
  }

  ctx.finished = Clock::now();
  gateway->chain.complete(ctx, ran);
  const auto write_record = [](std::string& buffer, const void* c) {
    append_access_record(buffer, *static_cast<const pipeline::RequestContext*>(c));
  };
  if (util::append_access_log(write_record, &ctx)) {
    flush_access_log_soon(co_await boost::asio::this_coro::executor);
  }
}

// Attempts members of the pool until one answers with a response that is not retried (see routing/),
// then relays it. Nothing has been sent to the client while attempts are still being made, so a retry
// is always safe; once a response is being relayed it is never retried.
boost::asio::awaitable<void> ProxyHandler::forward(pipeline::RequestContext& ctx, const config::Pool& pool,
                                                   http::Request& request, http::ResponseWriter& writer,
                                                   std::size_t policies_ran) {
  routing::PoolRouter& router = *gateway_->routers.at(pool.name);
  Failures failures;
  uint64_t tried = 0;
  const int max_attempts =
      std::min<int>(router.max_attempts(), static_cast<int>(std::min<std::size_t>(pool.members.size(), 64)));
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    const std::optional<routing::Pick> pick = router.pick(tried);
    if (!pick) break;
    tried |= uint64_t{1} << pick->member;
    ctx.attempts = attempt + 1;
    const bool answered =
        co_await try_member(ctx, pool, *pick, router, request, writer, policies_ran, failures);
    if (answered) co_return;
  }
  co_await answer_failure(ctx, router, failures, writer);
}

boost::asio::awaitable<void> ProxyHandler::answer_failure(pipeline::RequestContext& ctx,
                                                          routing::PoolRouter& router, Failures& failures,
                                                          http::ResponseWriter& writer) {
  const bool nothing_tried = ctx.attempts == 0;
  if (nothing_tried) ctx.attempt_log = "none_available";
  bool all_rate_limited = failures.rate_limited > 0 && failures.rate_limited == failures.total;
  if (nothing_tried) {
    all_rate_limited = true;
    for (const auto& h : router.health()) {
      if (h.state == routing::MemberState::kClosed || !h.opened_by_rate_limit) all_rate_limited = false;
    }
  }
  std::optional<std::chrono::milliseconds> wait = router.soonest_available();
  if (failures.soonest_retry_after && (!wait || *failures.soonest_retry_after < *wait)) {
    wait = failures.soonest_retry_after;
  }
  const int64_t retry_after_s = std::max<int64_t>(1, wait ? (wait->count() + 999) / 1000 : 1);

  if (all_rate_limited) {
    const api::ApiError error = api::errors::all_backends_rate_limited(ctx.attempt_log, retry_after_s);
    co_await send_error(ctx, error, writer);
    co_return;
  }
  if (failures.last_response) {
    // The last backend answer (a retryable status, attempts exhausted) goes to the client as it was.
    http::Response response = std::move(*failures.last_response);
    ctx.status = response.status;
    ctx.error_code = "backend_error";
    response.headers.emplace_back("x-request-id", ctx.request_id);
    response.headers.emplace_back("x-spillway-attempts", ctx.attempt_log);
    const bool sent = co_await writer.send(std::move(response));
    if (!sent) ctx.client_disconnected = true;
    co_return;
  }
  if (nothing_tried) {
    const api::ApiError error = api::errors::no_backend_available(ctx.attempt_log, retry_after_s);
    co_await send_error(ctx, error, writer);
    co_return;
  }
  const api::ApiError error = failures.timeouts == failures.total
                                  ? api::errors::backend_timeout(ctx.attempt_log)
                                  : api::errors::backend_unavailable(ctx.attempt_log);
  co_await send_error(ctx, error, writer);
}

boost::asio::awaitable<bool> ProxyHandler::try_member(pipeline::RequestContext& ctx, const config::Pool& pool,
                                                      const routing::Pick& pick, routing::PoolRouter& router,
                                                      http::Request& request, http::ResponseWriter& writer,
                                                      std::size_t policies_ran, Failures& failures) {
  const config::Config& cfg = gateway_->config;
  const config::PoolMember& member = pool.members[pick.member];
  const config::Backend& backend = cfg.backends.at(member.backend);
  auto note = [&ctx, &backend](std::string_view outcome) {
    if (!ctx.attempt_log.empty()) ctx.attempt_log += ", ";
    ctx.attempt_log += backend.name;
    ctx.attempt_log += ':';
    ctx.attempt_log += outcome;
  };

  api::UpstreamCall call =
      api::build_upstream_call(ctx.route, ctx.fields, request.body, ctx.pool, member, backend);
  // Views into the client request, the context, `call` and `auth_header`, which all outlive the send.
  http::UpstreamRequestView upstream;
  upstream.method = request.method;
  upstream.target = call.target;
  upstream.body = call.body();
  // While the backend works, this worker writes the access-log lines that have waited a millisecond
  // (util/log.h), so that they rarely wait for the 10 ms timer and the access-log thread.
  upstream.after_write = [] { util::write_access_log_if_due(); };
  upstream.headers.reserve(request.headers.size() + ctx.upstream_set_headers.size() + call.headers.size() +
                           2);
  add_forwarded_request_headers(request.headers, ctx, upstream.headers);
  for (const auto& h : ctx.upstream_set_headers) {
    if (api::forward_request_header(h.first)) upstream.headers.emplace_back(h.first, h.second);
  }
  for (const auto& h : call.headers) upstream.headers.emplace_back(h.first, h.second);
  upstream.headers.emplace_back("x-request-id", ctx.request_id);

  ctx.backend = backend.name;
  ctx.deployment = backend.kind == config::BackendKind::kAzureOpenAI
                       ? (member.deployment.empty() ? ctx.pool : member.deployment)
                       : (member.model.empty() ? ctx.fields.model : member.model);
  const auto upstream_started = Clock::now();
  auth::BackendCredential& credential = *gateway_->credentials.at(backend.name);
  // A static key is attached as it is; a token credential is asked (it may have to fetch a token).
  const std::optional<auth::CredentialHeader>* auth_header = credential.fixed_header();
  std::optional<auth::CredentialHeader> fetched;
  if (auth_header == nullptr) {
    fetched = co_await credential.header();
    auth_header = &fetched;
  }
  if (!*auth_header) {
    ctx.upstream_time += Clock::now() - upstream_started;
    note("credential_unavailable");
    router.record(pick, routing::Outcome{
                            .kind = routing::Outcome::kAbandoned, .status = 0, .retry_after = std::nullopt});
    ++failures.total;
    co_return false;
  }
  if (!(*auth_header)->name.empty())
    upstream.headers.emplace_back((*auth_header)->name, (*auth_header)->value);

  http::UpstreamResult result =
      co_await pool_for(backend).send(upstream, upstream_timeouts(cfg.server.timeouts));
  if (result.error != http::UpstreamError::kNone) {
    ctx.upstream_time += Clock::now() - upstream_started;
    note(http::upstream_error_name(result.error));
    routing::Outcome outcome;
    outcome.kind =
        http::is_timeout(result.error) ? routing::Outcome::kTimeout : routing::Outcome::kConnectError;
    if (result.error == http::UpstreamError::kCancelled) outcome.kind = routing::Outcome::kAbandoned;
    router.record(pick, outcome);
    ++failures.total;
    if (outcome.kind == routing::Outcome::kTimeout) ++failures.timeouts;
    co_return false;
  }
  ctx.first_byte = Clock::now();
  ctx.upstream_time += *ctx.first_byte - upstream_started;
  http::UpstreamExchange& exchange = *result.exchange;
  note(std::to_string(exchange.status()));

  routing::Outcome outcome{
      .kind = routing::Outcome::kResponse, .status = exchange.status(), .retry_after = std::nullopt};
  if (outcome.status == 429 || outcome.status >= 500) {
    outcome.retry_after =
        routing::retry_after_from_headers(exchange.headers(), std::chrono::system_clock::now());
  }
  router.record(pick, outcome);
  if (router.should_retry(outcome)) {
    ++failures.total;
    if (outcome.status == 429) {
      ++failures.rate_limited;
      if (outcome.retry_after &&
          (!failures.soonest_retry_after || *outcome.retry_after < *failures.soonest_retry_after)) {
        failures.soonest_retry_after = outcome.retry_after;
      }
    }
    // Keep the (small) error body: it is what the client gets if no other member answers. Reading it
    // to the end also keeps the connection reusable.
    std::string body;
    const auto read_started = Clock::now();
    const http::UpstreamError e = co_await exchange.read_all(body, kMaxRetainedErrorBody);
    ctx.upstream_time += Clock::now() - read_started;
    if (e == http::UpstreamError::kNone) {
      http::Response kept;
      kept.status = outcome.status;
      add_forwarded_response_headers(exchange.headers(), kept.headers);
      kept.headers.emplace_back("x-spillway-backend", backend.name);
      kept.body = std::move(body);
      failures.last_response = std::move(kept);
    } else {
      failures.last_response.reset();
    }
    co_return false;
  }
  co_await relay(ctx, *result.exchange, backend, call.drop_usage_chunk, writer, policies_ran);
  co_return true;
}

boost::asio::awaitable<void> ProxyHandler::relay(pipeline::RequestContext& ctx,
                                                 http::UpstreamExchange& exchange,
                                                 const config::Backend& backend, bool drop_usage_chunk,
                                                 http::ResponseWriter& writer, std::size_t policies_ran) {
  const config::Config& cfg = gateway_->config;
  http::HeaderList headers;
  // The three added here and the limit policies' (up to four) in Chain::response: no reallocation, which
  // would move every header.
  headers.reserve(exchange.headers().size() + ctx.response_headers.size() + 3 + 4);
  add_forwarded_response_headers(exchange.headers(), headers);
  const std::size_t from_backend = headers.size();
  for (const auto& h : ctx.response_headers) headers.push_back(h);
  headers.emplace_back("x-request-id", ctx.request_id);
  headers.emplace_back("x-spillway-backend", backend.name);
  headers.emplace_back("x-spillway-attempts", ctx.attempt_log);
  ctx.status = exchange.status();

  if (!is_event_stream(exchange.headers())) {
    std::string body;
    const auto read_started = Clock::now();
    const http::UpstreamError e = co_await exchange.read_all(body, cfg.server.max_response_body);
    ctx.upstream_time += Clock::now() - read_started;
    if (e != http::UpstreamError::kNone) {
      ctx.attempt_log += std::string("/") + std::string(http::upstream_error_name(e));
      const api::ApiError error = http::is_timeout(e) ? api::errors::backend_timeout(ctx.attempt_log)
                                                      : api::errors::bad_backend_response(ctx.attempt_log);
      co_await send_error(ctx, error, writer);
      co_return;
    }
    if (ctx.status >= 200 && ctx.status < 300) {
      if (auto usage = api::extract_usage(body)) {
        ctx.usage = *usage;
        ctx.usage_present = true;
      }
    }
    gateway_->chain.response(ctx, headers, policies_ran);
    drop_overridden_headers(headers, from_backend);
    http::Response response{ctx.status, std::move(headers), std::move(body)};
    const bool sent = co_await writer.send(std::move(response));
    if (!sent) ctx.client_disconnected = true;
    co_return;
  }

  co_await relay_stream(ctx, exchange, backend, drop_usage_chunk, writer, policies_ran, headers,
                        from_backend);
}

// Streamed: forward every complete SSE event as soon as it arrives. After the client leaves, keep reading
// (within the upstream timeouts) so the usage the backend reports at the end is still recorded. (A coroutine
// of its own: its locals in relay()'s frame would put that over Asio's recycling limit for every request.)
boost::asio::awaitable<void> ProxyHandler::relay_stream(pipeline::RequestContext& ctx,
                                                        http::UpstreamExchange& exchange,
                                                        const config::Backend& backend, bool drop_usage_chunk,
                                                        http::ResponseWriter& writer,
                                                        std::size_t policies_ran, http::HeaderList& headers,
                                                        std::size_t from_backend) {
  ctx.stream = true;
  gateway_->chain.response(ctx, headers, policies_ran);
  drop_overridden_headers(headers, from_backend);
  http::SseParser parser;
  std::string in;
  std::string out;  // events read and not yet written
  bool done = false;
  // Passes the complete events of `in` through the policies into `out`.
  const auto take_events = [&] {
    if (in.empty()) return;
    parser.feed(in, [&](const http::SseEvent& event) {
      gateway_->chain.chunk(ctx, event, policies_ran);
      if (api::mentions_usage(event.data)) {
        if (auto usage = api::extract_usage(event.data)) {
          ctx.usage = *usage;
          ctx.usage_present = true;
        }
        if (drop_usage_chunk && api::is_usage_only_chunk(event.data)) return;
      }
      out.append(event.raw);
    });
  };
  // What arrived with the backend's head (usually its first event) goes out with ours, in one write: the
  // client gets the first event as early as the head. Nothing is waited for here.
  http::UpstreamError e = exchange.read_buffered(in, done);
  take_events();
  if (!co_await writer.begin_stream(ctx.status, headers, out)) ctx.client_disconnected = true;
  out.clear();
  while (e == http::UpstreamError::kNone && !done) {
    in.clear();
    const auto read_started = Clock::now();
    e = co_await exchange.read_some(in, done);
    ctx.upstream_time += Clock::now() - read_started;
    take_events();
    // The events of the last read go with the end of the stream (below), in one write.
    if (done && e == http::UpstreamError::kNone) break;
    if (!out.empty() && !ctx.client_disconnected) {
      if (!co_await writer.write_chunk(out)) ctx.client_disconnected = true;
    }
    out.clear();
  }
  if (e != http::UpstreamError::kNone) {
    ctx.attempt_log += std::string("/") + std::string(http::upstream_error_name(e));
    const api::ApiError error = http::is_timeout(e) ? api::errors::backend_timeout(ctx.attempt_log)
                                                    : api::errors::bad_backend_response(ctx.attempt_log);
    ctx.error_code = error.code;
    util::log_warn("request " + ctx.request_id + ": stream from " + backend.name +
                   " broke: " + std::string(http::upstream_error_name(e)));
    if (!ctx.client_disconnected) {
      const std::string event = stream_error_event(error);
      co_await writer.write_chunk(event);
      writer.abort_stream();
    }
    co_return;
  }
  if (!ctx.client_disconnected) {
    // A last event without its terminating blank line is still the backend's: pass it on.
    out.append(parser.pending());
    if (!co_await writer.end_stream(out)) ctx.client_disconnected = true;
  }
}

}  // namespace spillway::proxy
