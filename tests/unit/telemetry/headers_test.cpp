#include <gtest/gtest.h>

#include "telemetry/headers_policy.h"

namespace spillway::telemetry {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// Returns 0x1111..., 0x2222..., ... so generated ids are predictable.
RandomBits counter_random() {
  auto n = std::make_shared<uint64_t>(0);
  return [n] { return 0x1111111111111111ULL * (++*n % 16); };
}

TEST(TraceParent, ParsesValidVersion00) {
  auto tp = parse_traceparent(kValid);
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(tp->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(tp->flags, 1);
  EXPECT_EQ(format_traceparent(*tp), kValid);
}

TEST(TraceParent, RejectsInvalidOnes) {
  for (std::string_view bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",         // short
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // 00 with more
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // uppercase
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // version ff
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",        // not hex
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",       // later version, bad tail
       }) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-whatever"));
  EXPECT_TRUE(parse_traceparent(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 "));
}

TEST(TraceParent, KeepsTheClientsTraceWithANewParent) {
  bool continued = false;
  const std::string tp = upstream_traceparent({kValid}, counter_random(), continued);
  EXPECT_TRUE(continued);
  EXPECT_EQ(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01");
  // Flags other than sampled survive for version 00 only.
  const std::string unsampled = upstream_traceparent(
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}, counter_random(), continued);
  EXPECT_EQ(unsampled.substr(53), "00");
  const std::string v1 = upstream_traceparent({"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff-x"},
                                              counter_random(), continued);
  EXPECT_TRUE(continued);
  EXPECT_EQ(v1, "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01");
}

TEST(TraceParent, StartsANewTraceWhenAbsentInvalidOrRepeated) {
  bool continued = true;
  EXPECT_EQ(upstream_traceparent({}, counter_random(), continued),
            "00-11111111111111112222222222222222-3333333333333333-01");
  EXPECT_FALSE(continued);
  EXPECT_EQ(upstream_traceparent({"garbage"}, counter_random(), continued).substr(0, 35),
            "00-11111111111111112222222222222222");
  EXPECT_FALSE(continued);
  upstream_traceparent({kValid, kValid}, counter_random(), continued);
  EXPECT_FALSE(continued);
  // A random source that starts with zeros never yields an all-zero id.
  auto zeros_first = [n = 0]() mutable -> uint64_t { return n++ < 2 ? 0 : 0xabcdefULL; };
  const std::string tp = upstream_traceparent({}, zeros_first, continued);
  EXPECT_TRUE(parse_traceparent(tp)) << tp;
}

TEST(Baggage, ValuesArePercentEncoded) {
  EXPECT_EQ(encode_baggage_value("shared-ai"), "shared-ai");
  EXPECT_EQ(encode_baggage_value("a b,c;d\\e\"f%g=h"), "a%20b%2Cc%3Bd%5Ce%22f%25g=h");
  EXPECT_EQ(encode_baggage_value("\xC3\xA9"), "%C3%A9");
}

TEST(Baggage, AppendsEntriesAndPlatformEntriesWin) {
  const std::vector<std::pair<std::string, std::string>> entries = {{"platform", "shared ai"},
                                                                    {"env", "prod"}};
  EXPECT_EQ(merge_baggage({}, entries), "platform=shared%20ai,env=prod");
  EXPECT_EQ(merge_baggage({"userId=alice, platform=spoofed;p=1", " ,a=b "}, entries),
            "userId=alice,a=b,platform=shared%20ai,env=prod");
  EXPECT_EQ(merge_baggage({"k=v;prop"}, {}), "k=v;prop");
}

TEST(HeadersPolicy, SetsRemovesAndPropagates) {
  config::HeadersSettings s;
  s.set = {{"x-platform", "shared-ai"}};
  s.remove = {"x-debug"};
  s.baggage = {{"platform", "shared-ai"}};
  HeadersPolicy policy(s, counter_random());
  http::Request request;
  request.headers = {{"traceparent", std::string(kValid)}, {"tracestate", "a=b"}, {"baggage", "user=1"}};
  pipeline::RequestContext ctx;
  ctx.request = &request;
  EXPECT_FALSE(policy.on_request(ctx));
  EXPECT_EQ(ctx.upstream_remove_headers, (std::vector<std::string>{"x-debug"}));
  EXPECT_EQ(ctx.upstream_set_headers,
            (http::HeaderList{{"x-platform", "shared-ai"},
                              {"baggage", "user=1,platform=shared-ai"},
                              {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"}}));
}

TEST(HeadersPolicy, NewTraceDropsTracestate) {
  config::HeadersSettings s;
  HeadersPolicy policy(s, counter_random());
  http::Request request;
  request.headers = {{"tracestate", "a=b"}};
  pipeline::RequestContext ctx;
  ctx.request = &request;
  policy.on_request(ctx);
  EXPECT_EQ(ctx.upstream_remove_headers, (std::vector<std::string>{"tracestate"}));
  ASSERT_EQ(ctx.upstream_set_headers.size(), 1u);
  EXPECT_EQ(ctx.upstream_set_headers[0].first, "traceparent");
  EXPECT_TRUE(parse_traceparent(ctx.upstream_set_headers[0].second));
}

TEST(HeadersPolicy, TraceparentCanBeTurnedOff) {
  config::HeadersSettings s;
  s.traceparent = false;
  HeadersPolicy policy(s);
  http::Request request;
  pipeline::RequestContext ctx;
  ctx.request = &request;
  policy.on_request(ctx);
  EXPECT_TRUE(ctx.upstream_set_headers.empty());
  EXPECT_TRUE(ctx.upstream_remove_headers.empty());
}

TEST(HeadersPolicy, DefaultRandomIdsDiffer) {
  config::HeadersSettings s;
  HeadersPolicy policy(s);
  http::Request request;
  pipeline::RequestContext a, b;
  a.request = b.request = &request;
  policy.on_request(a);
  policy.on_request(b);
  EXPECT_NE(a.upstream_set_headers[0].second, b.upstream_set_headers[0].second);
}

}  // namespace
}  // namespace spillway::telemetry
