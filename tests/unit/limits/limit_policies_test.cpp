// The request and token limit policies on a MemoryStore with a ManualClock, driven the way the proxy
// drives them: on_request, then (when forwarded) the outcome in the context, on_response, on_complete.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>

#include "api/json_doc.h"
#include "api/request_body.h"
#include "limits/estimate_offload.h"
#include "limits/request_limit_policy.h"
#include "limits/token_limit_policy.h"
#include "state/memory_store.h"
#include "util/clock.h"

namespace spillway::limits {
namespace {

using namespace std::chrono;

SystemTime utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return sys_days(year(y) / month(m) / day(d)) + hours(hh) + minutes(mm) + seconds(ss);
}

class FixedEstimator final : public PromptEstimator {
 public:
  explicit FixedEstimator(int64_t n) : n_(n) {}
  int64_t estimate(std::string_view, std::string_view, std::string_view,
                   const api::ParsedJson*) const override {
    return n_;
  }

 private:
  int64_t n_;
};

// A fixed estimate that remembers the threads it was asked on.
class ThreadRecordingEstimator final : public PromptEstimator {
 public:
  explicit ThreadRecordingEstimator(int64_t n) : n_(n) {}
  int64_t estimate(std::string_view, std::string_view, std::string_view body,
                   const api::ParsedJson* document) const override {
    std::lock_guard lock(mu_);
    threads_.push_back(std::this_thread::get_id());
    saw_document_ = document != nullptr && document->error() == simdjson::SUCCESS;
    bodies_.push_back(body.size());
    return n_;
  }
  std::vector<std::thread::id> threads() const {
    std::lock_guard lock(mu_);
    return threads_;
  }
  bool saw_document() const {
    std::lock_guard lock(mu_);
    return saw_document_;
  }

 private:
  int64_t n_;
  mutable std::mutex mu_;
  mutable std::vector<std::thread::id> threads_;
  mutable std::vector<std::size_t> bodies_;
  mutable bool saw_document_ = false;
};

std::string header(const http::HeaderList& headers, std::string_view name) {
  return std::string(http::find_header(headers, name));
}

config::TokenLimitSettings tpm(int64_t tokens_per_minute) {
  config::TokenLimitSettings s;
  s.tokens_per_minute = tokens_per_minute;
  return s;
}

class LimitPoliciesTest : public ::testing::Test {
 protected:
  LimitPoliciesTest() {
    products["standard"] = config::Product{.name = "standard", .token_limit = tpm(1000), .request_limit = {}};
    config::TokenLimitSettings quota;
    quota.quota = 1000;
    quota.quota_period = config::QuotaPeriod::kMonthly;
    products["metered"] = config::Product{.name = "metered", .token_limit = quota, .request_limit = {}};
    products["chatty"] = config::Product{
        .name = "chatty", .token_limit = {}, .request_limit = config::RequestLimitSettings{{}, 3}};
    add_subscription("team-a", "standard");
    add_subscription("team-b", "standard");
    add_subscription("team-m", "metered");
    add_subscription("team-r", "chatty");
    subs["team-own"] = config::Subscription{.name = "team-own",
                                            .key_env = "K",
                                            .key = "k",
                                            .product = "standard",
                                            .tags = {},
                                            .token_limit = tpm(50),
                                            .request_limit = {}};
  }
  void add_subscription(const std::string& name, const std::string& product) {
    subs[name] = config::Subscription{.name = name,
                                      .key_env = "K",
                                      .key = "k-" + name,
                                      .product = product,
                                      .tags = {},
                                      .token_limit = {},
                                      .request_limit = {}};
  }

  TokenLimitPolicy token_policy(int64_t prompt_estimate = 100) {
    return TokenLimitPolicy(subs, products, store, clock, std::make_shared<FixedEstimator>(prompt_estimate));
  }

  pipeline::RequestContext request(const std::string& subscription, std::string body,
                                   api::Operation op = api::Operation::kChatCompletions) {
    http::Request& r = requests.emplace_back();
    r.method = "POST";
    r.body = std::move(body);
    pipeline::RequestContext ctx;
    ctx.request = &r;
    ctx.route.api = &api;
    ctx.route.op = op;
    ctx.subscription = &subs.at(subscription);
    // As the proxy does before the policies run.
    auto inspected = api::inspect_body(r.body, ctx.route);
    if (auto* fields = std::get_if<api::RequestFields>(&inspected)) {
      ctx.fields = std::move(*fields);
      ctx.pool = ctx.route.model_in_body ? ctx.fields.model : ctx.route.deployment;
      ctx.body_valid = true;
    }
    return ctx;
  }
  // The policy's async path, run to its end on an event loop of this thread, as the chain runs it when
  // needs_io() says so.
  static std::optional<pipeline::Reply> run_async(pipeline::Policy& policy, pipeline::RequestContext& ctx) {
    boost::asio::io_context io;
    auto reply = boost::asio::co_spawn(io, policy.on_request_async(ctx), boost::asio::use_future);
    io.run();
    return reply.get();
  }
  pipeline::RequestContext chat(const std::string& subscription, int max_tokens) {
    return request(subscription,
                   R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":)" +
                       std::to_string(max_tokens) + "}");
  }
  // What the proxy records for a backend answer with usage.
  static void answered(pipeline::RequestContext& ctx, int status, std::optional<int64_t> total_tokens) {
    ctx.attempts = 1;
    ctx.first_byte = steady_clock::now();
    ctx.status = status;
    if (total_tokens) {
      ctx.usage.total_tokens = *total_tokens;
      ctx.usage_present = true;
    }
  }

  std::map<std::string, config::Subscription> subs;
  std::map<std::string, config::Product> products;
  config::Api api{"openai", "", config::Shape::kOpenAI};
  util::ManualClock clock{utc(2024, 2, 29, 23, 59, 0)};
  std::shared_ptr<state::MemoryStore> store = std::make_shared<state::MemoryStore>();
  std::deque<http::Request> requests;
};

TEST_F(LimitPoliciesTest, ReservesPromptPlusMaxTokensAndSettlesToTheUsageBeforeTheHead) {
  auto policy = token_policy();
  auto ctx = chat("team-a", 200);
  EXPECT_FALSE(policy.on_request(ctx));
  EXPECT_TRUE(ctx.limits.tokens_held);
  EXPECT_EQ(ctx.limits.window_tokens, 300);
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 300);
  EXPECT_EQ(ctx.pool, "gpt-4o");

  answered(ctx, 200, 150);
  http::HeaderList headers;
  policy.on_response(ctx, headers);
  EXPECT_EQ(header(headers, "x-tokens-consumed"), "150");
  EXPECT_EQ(header(headers, "x-ratelimit-remaining-tokens"), "850");
  EXPECT_EQ(header(headers, "x-quota-remaining-tokens"), "");
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 150);
  policy.on_complete(ctx);  // settles once only
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 150);
}

TEST_F(LimitPoliciesTest, InFlightReservationsPreventOvershoot) {
  auto policy = token_policy();
  auto first = chat("team-a", 500);  // 600 reserved, still running
  ASSERT_FALSE(policy.on_request(first));
  auto second = chat("team-a", 500);
  auto reply = policy.on_request(second);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 429);
  EXPECT_EQ(second.limit_rejection, "token_limit");
  EXPECT_EQ(second.error_code, "rate_limit_exceeded");
  EXPECT_FALSE(second.limits.tokens_held);
  EXPECT_EQ(header(reply->headers, "retry-after"), "61");
  EXPECT_NE(reply->body.find(R"("code":"rate_limit_exceeded")"), std::string::npos);
  EXPECT_NE(reply->body.find(R"("type":"tokens")"), std::string::npos);
  http::HeaderList headers = reply->headers;
  policy.on_response(second, headers);
  EXPECT_EQ(header(headers, "x-ratelimit-remaining-tokens"), "400");
  EXPECT_EQ(header(headers, "x-tokens-consumed"), "");
  policy.on_complete(second);
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 600);

  // The first one settles low: room for the second at once.
  answered(first, 200, 100);
  http::HeaderList first_headers;
  policy.on_response(first, first_headers);
  policy.on_complete(first);
  auto third = chat("team-a", 500);
  EXPECT_FALSE(policy.on_request(third));
}

TEST_F(LimitPoliciesTest, RetryAfterIsWhenEnoughTokensLeaveTheWindow) {
  auto policy = token_policy();
  auto a = chat("team-a", 700);  // 800 at t0
  ASSERT_FALSE(policy.on_request(a));
  clock.advance(seconds(10));
  auto b = chat("team-a", 200);  // 300 does not fit until the 800 leave, 51 s from now
  auto reply = policy.on_request(b);
  ASSERT_TRUE(reply);
  EXPECT_EQ(header(reply->headers, "retry-after"), "51");
  clock.advance(seconds(51));
  auto c = chat("team-a", 200);
  EXPECT_FALSE(policy.on_request(c));
}

TEST_F(LimitPoliciesTest, ALimitedSubscriptionDoesNotAffectAnother) {
  auto policy = token_policy();
  auto a = chat("team-a", 900);
  ASSERT_FALSE(policy.on_request(a));
  auto a2 = chat("team-a", 10);
  EXPECT_TRUE(policy.on_request(a2));
  auto b = chat("team-b", 900);
  EXPECT_FALSE(policy.on_request(b));
}

TEST_F(LimitPoliciesTest, TheSubscriptionsOwnLimitOverridesTheProducts) {
  auto policy = token_policy(10);
  auto big = chat("team-own", 100);  // 110 is capped at the 50 the limit could ever allow
  EXPECT_FALSE(policy.on_request(big));
  EXPECT_EQ(big.limits.window_tokens, 50);
  EXPECT_EQ(big.limits.window_limit, 50);
  auto more = chat("team-own", 1);
  EXPECT_TRUE(policy.on_request(more));
}

TEST_F(LimitPoliciesTest, StreamsSettleOnCompleteAndSendNoConsumedHeader) {
  auto policy = token_policy();
  auto ctx = chat("team-a", 400);
  ASSERT_FALSE(policy.on_request(ctx));
  answered(ctx, 200, std::nullopt);
  ctx.stream = true;
  http::HeaderList headers;
  policy.on_response(ctx, headers);
  EXPECT_EQ(header(headers, "x-ratelimit-remaining-tokens"), "500");  // after the reservation
  EXPECT_EQ(header(headers, "x-tokens-consumed"), "");
  // The usage arrives in the last event; the client may have left meanwhile.
  ctx.usage.total_tokens = 230;
  ctx.usage_present = true;
  ctx.client_disconnected = true;
  policy.on_complete(ctx);
  EXPECT_EQ(ctx.limits.tokens_consumed, 230);
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 230);
}

TEST_F(LimitPoliciesTest, UnreportedUsageKeepsTheReservation) {
  auto policy = token_policy();
  auto ctx = chat("team-a", 400);
  ASSERT_FALSE(policy.on_request(ctx));
  answered(ctx, 200, std::nullopt);
  ctx.stream = true;
  ctx.error_code = "backend_timeout";  // the stream broke
  policy.on_complete(ctx);
  EXPECT_EQ(ctx.limits.tokens_consumed, 500);
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 500);
}

TEST_F(LimitPoliciesTest, ARequestThatNeverReachedABackendIsReleased) {
  auto policy = token_policy();
  auto ctx = chat("team-a", 400);
  ASSERT_FALSE(policy.on_request(ctx));
  ctx.status = 404;  // e.g. unknown model, answered by the gateway after the policies
  ctx.error_code = "model_not_found";
  http::HeaderList headers;
  policy.on_response(ctx, headers);
  EXPECT_EQ(header(headers, "x-tokens-consumed"), "0");
  EXPECT_EQ(header(headers, "x-ratelimit-remaining-tokens"), "1000");
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 0);
}

TEST_F(LimitPoliciesTest, ABackendsErrorAnswerIsReleasedButAGatewayErrorAfterForwardingIsNot) {
  auto policy = token_policy();
  auto refused = chat("team-a", 400);
  ASSERT_FALSE(policy.on_request(refused));
  answered(refused, 429, std::nullopt);  // relayed as the backend sent it
  policy.on_complete(refused);
  EXPECT_EQ(refused.limits.tokens_consumed, 0);

  auto all_busy = chat("team-a", 400);  // every member answered 429: the gateway's own 429
  ASSERT_FALSE(policy.on_request(all_busy));
  answered(all_busy, 429, std::nullopt);
  all_busy.attempts = 2;
  all_busy.error_code = "rate_limit_exceeded";
  policy.on_complete(all_busy);
  EXPECT_EQ(all_busy.limits.tokens_consumed, 0);
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 0);

  auto broken = chat("team-a", 400);
  ASSERT_FALSE(policy.on_request(broken));
  answered(broken, 200, std::nullopt);
  broken.status = 502;  // the body could not be read: the backend may have generated it
  broken.error_code = "bad_backend_response";
  policy.on_complete(broken);
  EXPECT_EQ(broken.limits.tokens_consumed, 500);
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 500);
}

TEST_F(LimitPoliciesTest, UsageAboveTheReservationIsCharged) {
  auto policy = token_policy();
  auto ctx = chat("team-a", 100);
  ASSERT_FALSE(policy.on_request(ctx));
  answered(ctx, 200, 700);  // a backend that ignored max_tokens
  policy.on_complete(ctx);
  EXPECT_EQ(store->window_used("tpm:sub:team-a", clock.system_now()), 700);
  auto next = chat("team-a", 300);
  EXPECT_TRUE(policy.on_request(next));
}

TEST_F(LimitPoliciesTest, QuotaSpentGives403UntilTheNextPeriod) {
  auto policy = token_policy();
  // 23:59 on 2024-02-29: the monthly quota of February.
  auto a = chat("team-m", 800);  // 900 of 1000
  ASSERT_FALSE(policy.on_request(a));
  answered(a, 200, 900);
  http::HeaderList headers;
  policy.on_response(a, headers);
  policy.on_complete(a);
  EXPECT_EQ(header(headers, "x-quota-remaining-tokens"), "100");
  EXPECT_EQ(header(headers, "x-ratelimit-remaining-tokens"), "");  // no tokens_per_minute

  auto b = chat("team-m", 100);  // 200 > 100 left
  auto reply = policy.on_request(b);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 403);
  EXPECT_EQ(b.limit_rejection, "token_quota");
  EXPECT_EQ(header(reply->headers, "retry-after"), "");
  EXPECT_NE(reply->body.find(R"("code":"quota_exceeded")"), std::string::npos);
  EXPECT_NE(reply->body.find("2024-03-01T00:00:00Z"), std::string::npos);
  http::HeaderList reply_headers = reply->headers;
  policy.on_response(b, reply_headers);
  EXPECT_EQ(header(reply_headers, "x-quota-remaining-tokens"), "100");
  policy.on_complete(b);

  clock.advance(seconds(60));  // March
  auto c = chat("team-m", 100);
  EXPECT_FALSE(policy.on_request(c));
  EXPECT_EQ(c.limits.quota_remaining, 800);
}

TEST_F(LimitPoliciesTest, QuotaAndWindowTogetherAreAllOrNothing) {
  config::TokenLimitSettings both = tpm(500);
  both.quota = 10'000;
  both.quota_period = config::QuotaPeriod::kDaily;
  subs["team-a"].token_limit = both;
  auto policy = token_policy();
  auto a = chat("team-a", 300);  // 400
  ASSERT_FALSE(policy.on_request(a));
  EXPECT_EQ(a.limits.quota_remaining, 9600);
  EXPECT_EQ(a.limits.tokens_remaining, 100);
  auto b = chat("team-a", 300);
  auto reply = policy.on_request(b);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 429);
  EXPECT_EQ(b.limits.quota_remaining, 9600);  // what was free before; the 400 went back
  EXPECT_EQ(store->quota_used(a.limits.quota_key, clock.system_now()), 400);
  EXPECT_EQ(a.limits.quota_key, "quota:daily@1709164800:sub:team-a");
}

TEST_F(LimitPoliciesTest, EstimatePromptTokensOffAndEmbeddings) {
  products["standard"].token_limit->estimate_prompt_tokens = false;
  auto policy = token_policy(100);
  auto ctx = chat("team-a", 200);
  ASSERT_FALSE(policy.on_request(ctx));
  EXPECT_EQ(ctx.limits.window_tokens, 200);
  auto emb =
      request("team-b", R"({"model":"text-embedding-3-small","input":"hi"})", api::Operation::kEmbeddings);
  ASSERT_FALSE(policy.on_request(emb));
  EXPECT_EQ(emb.limits.window_tokens, 0);
}

TEST_F(LimitPoliciesTest, UnlimitedAndInvalidRequestsPassUntouched) {
  auto policy = token_policy();
  auto none = chat("team-r", 100);  // product without a token limit
  EXPECT_FALSE(policy.on_request(none));
  EXPECT_FALSE(none.limits.tokens_held);
  auto models = request("team-a", "", api::Operation::kModels);
  EXPECT_FALSE(policy.on_request(models));
  EXPECT_FALSE(models.limits.tokens_held);
  auto bad = request("team-a", "not json");  // the proxy answers 400 for it next
  EXPECT_FALSE(policy.on_request(bad));
  EXPECT_FALSE(bad.limits.tokens_held);
  auto anonymous = chat("team-a", 100);
  anonymous.subscription = nullptr;  // authentication off
  EXPECT_FALSE(policy.on_request(anonymous));
  http::HeaderList headers;
  policy.on_response(anonymous, headers);
  EXPECT_TRUE(headers.empty());
}

TEST_F(LimitPoliciesTest, TheAsyncPathGivesTheSameAnswers) {
  auto policy = token_policy();
  auto a = chat("team-a", 800);
  auto b = chat("team-a", 800);
  EXPECT_FALSE(run_async(policy, a));
  auto reply = run_async(policy, b);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 429);
}

TEST_F(LimitPoliciesTest, LargeBodiesAreEstimatedOnTheOffloadThread) {
  auto estimator = std::make_shared<ThreadRecordingEstimator>(300);
  auto offload = std::make_shared<EstimateOffload>();
  TokenLimitPolicy policy(subs, products, store, clock, estimator, offload);
  const auto big_chat = [&](const std::string& subscription, int max_tokens) {
    return request(subscription, R"({"model":"gpt-4o","messages":[{"role":"user","content":")" +
                                     std::string(EstimateOffload::kMinBytes, 'a') + R"("}],"max_tokens":)" +
                                     std::to_string(max_tokens) + "}");
  };
  auto big = big_chat("team-a", 400);
  auto small = chat("team-b", 400);
  EXPECT_TRUE(policy.needs_io(big));
  EXPECT_FALSE(policy.needs_io(small));  // the memory store answers at once: no coroutine for it

  EXPECT_FALSE(run_async(policy, big));
  EXPECT_FALSE(policy.on_request(small));
  const std::vector<std::thread::id> threads = estimator->threads();
  ASSERT_EQ(threads.size(), 2u);
  EXPECT_NE(threads[0], std::this_thread::get_id());  // the big body: the offload thread
  EXPECT_EQ(threads[1], std::this_thread::get_id());  // the small one: the worker itself
  EXPECT_TRUE(estimator->saw_document());             // the parsed body went along
  // The same reservation as a count on the worker: the estimate plus max_tokens.
  EXPECT_EQ(big.limits.window_tokens, 700);
  EXPECT_EQ(big.limits.tokens_remaining, 300);
  EXPECT_EQ(small.limits.window_tokens, 700);

  // Over the limit (300 left, 301 asked): the same refusal as on the worker.
  auto over = big_chat("team-a", 1);
  auto reply = run_async(policy, over);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 429);
  EXPECT_EQ(over.limit_rejection, "token_limit");
  EXPECT_FALSE(over.limits.tokens_held);
  EXPECT_EQ(over.limits.tokens_remaining, 300);
  EXPECT_EQ(estimator->threads().size(), 3u);
  EXPECT_NE(estimator->threads()[2], std::this_thread::get_id());
}

TEST_F(LimitPoliciesTest, AfterFinishTheOffloadCountsOnTheCaller) {
  EstimateOffload offload;
  boost::asio::io_context io;
  std::thread::id ran_on;
  auto count = [&] {
    ran_on = std::this_thread::get_id();
    return int64_t{42};
  };
  auto first = boost::asio::co_spawn(io, offload.run(count), boost::asio::use_future);
  io.run();
  EXPECT_EQ(first.get(), 42);
  EXPECT_NE(ran_on, std::this_thread::get_id());
  offload.finish();
  offload.finish();  // idempotent
  io.restart();
  auto second = boost::asio::co_spawn(io, offload.run(count), boost::asio::use_future);
  io.run();
  EXPECT_EQ(second.get(), 42);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST_F(LimitPoliciesTest, AnExceptionOnTheOffloadThreadReachesTheCaller) {
  EstimateOffload offload;
  boost::asio::io_context io;
  auto failed =
      boost::asio::co_spawn(io, offload.run([]() -> int64_t { throw std::runtime_error("count failed"); }),
                            boost::asio::use_future);
  io.run();
  EXPECT_THROW(failed.get(), std::runtime_error);
  // The thread goes on counting.
  io.restart();
  auto next = boost::asio::co_spawn(io, offload.run([] { return int64_t{7}; }), boost::asio::use_future);
  io.run();
  EXPECT_EQ(next.get(), 7);
}

TEST_F(LimitPoliciesTest, RequestLimitCountsRequestsPerMinute) {
  RequestLimitPolicy policy(subs, products, store, clock);
  EXPECT_TRUE(policy.active());
  for (int i = 0; i < 3; ++i) {
    auto ctx = chat("team-r", 10);
    EXPECT_FALSE(policy.on_request(ctx));
    http::HeaderList headers;
    policy.on_response(ctx, headers);
    EXPECT_EQ(header(headers, "x-ratelimit-remaining-requests"), std::to_string(2 - i));
    clock.advance(seconds(10));
  }
  auto over = chat("team-r", 10);
  auto reply = policy.on_request(over);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 429);
  EXPECT_EQ(over.limit_rejection, "request_limit");
  EXPECT_EQ(header(reply->headers, "retry-after"), "31");  // the first leaves 61 s after it came
  EXPECT_NE(reply->body.find(R"("type":"requests")"), std::string::npos);
  http::HeaderList headers = reply->headers;
  policy.on_response(over, headers);
  EXPECT_EQ(header(headers, "x-ratelimit-remaining-requests"), "0");
  // Subscriptions without a request limit are not counted.
  auto other = chat("team-a", 10);
  EXPECT_FALSE(policy.on_request(other));
  EXPECT_EQ(other.limits.requests_remaining, -1);
  clock.advance(seconds(31));
  auto later = chat("team-r", 10);
  EXPECT_FALSE(policy.on_request(later));
}

}  // namespace
}  // namespace spillway::limits
