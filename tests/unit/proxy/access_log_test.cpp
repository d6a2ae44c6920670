#include "proxy/access_log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace spillway::proxy {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

struct Filled {
  config::Api api{.name = "openai", .prefix = "", .shape = config::Shape::kOpenAI};
  config::Subscription sub;
  http::Request request;
  pipeline::RequestContext ctx;

  Filled() {
    sub.name = "team-a";
    sub.key = "secret-key";
    request.method = "POST";
    request.target = "/v1/chat/completions";
    ctx.request_id = "req-0001";
    ctx.request = &request;
    ctx.route.api = &api;
    ctx.route.op = api::Operation::kChatCompletions;
    ctx.pool = "gpt-4o";
    ctx.subscription = &sub;
    ctx.user_hash = "0123456789abcdef";
    ctx.started_at =
        std::chrono::system_clock::time_point(seconds(1700000000)) + std::chrono::milliseconds(999);
    ctx.started = pipeline::SteadyTime(seconds(5000));
    ctx.status = 200;
    ctx.backend = "payg-sweden";
    ctx.deployment = "gpt-4o-2024";
    ctx.model = "gpt-4o-2024-08-06";
    ctx.attempts = 2;
    ctx.attempt_log = "ptu-east:503, payg-sweden:ok";
    ctx.stream = true;
    ctx.usage = api::Usage{.prompt_tokens = 212,
                           .completion_tokens = 48,
                           .total_tokens = 260,
                           .cached_tokens = 128,
                           .reasoning_tokens = 16};
    ctx.usage_present = true;
    ctx.first_byte = ctx.started + nanoseconds(500000);
    ctx.finished = ctx.started + nanoseconds(1234567);
  }
};

TEST(AccessRecord, FilledContext) {
  Filled f;
  EXPECT_EQ(
      access_record(f.ctx),
      R"({"ts":"2023-11-14T22:13:20Z","request_id":"req-0001","method":"POST","api":"openai",)"
      R"("operation":"chat.completions","pool":"gpt-4o","backend":"payg-sweden","deployment":"gpt-4o-2024",)"
      R"("subscription":"team-a","status":200,"attempts":2,"attempt_log":"ptu-east:503, payg-sweden:ok",)"
      R"("stream":true,"prompt_tokens":212,"completion_tokens":48,"total_tokens":260,"cached_tokens":128,)"
      R"("reasoning_tokens":16,"usage_source":"backend","client_disconnected":false,"duration_ms":1.235,)"
      R"("ttfb_ms":0.500})");
}

TEST(AccessRecord, EmptyContextAndOddValues) {
  pipeline::RequestContext ctx;  // no request, no api, no subscription, no first byte
  ctx.request_id = std::string("q\"b\\s\n\t\x01\x7f\xff\xC3\xA9", 12);
  ctx.pool = "</script>";
  ctx.error_code = "upstream_error";
  ctx.status = -1;
  ctx.attempts = 0;
  ctx.client_disconnected = true;
  ctx.usage.prompt_tokens = std::numeric_limits<int64_t>::max();
  ctx.usage.completion_tokens = std::numeric_limits<int64_t>::min();
  ctx.usage.total_tokens = -7;
  ctx.started_at = std::chrono::system_clock::time_point(seconds(0));
  EXPECT_EQ(access_record(ctx),
            R"({"ts":"1970-01-01T00:00:00Z","request_id":"q\"b\\s\n\t\u0001\u007f)"
            "\xEF\xBF\xBD\xC3\xA9"
            R"(","api":"","operation":"","pool":"</script>","backend":"","deployment":"",)"
            R"("subscription":"","status":-1,"error":"upstream_error","attempts":0,"stream":false,)"
            R"("prompt_tokens":9223372036854775807,"completion_tokens":-9223372036854775808,)"
            R"("total_tokens":-7,"cached_tokens":0,"reasoning_tokens":0,"usage_source":"none",)"
            R"("client_disconnected":true,"duration_ms":0.000})");
}

TEST(AccessRecord, TimestampFollowsEachRecordsSecond) {
  Filled f;
  const auto base = std::chrono::system_clock::time_point(seconds(1700000000));
  const std::vector<std::pair<std::chrono::system_clock::time_point, std::string>> cases = {
      {base, "2023-11-14T22:13:20Z"},
      {base + std::chrono::milliseconds(999), "2023-11-14T22:13:20Z"},
      {base + seconds(1), "2023-11-14T22:13:21Z"},
      {base, "2023-11-14T22:13:20Z"},  // back in time
      {base + seconds(86400 * 47), "2023-12-31T22:13:20Z"},
      {std::chrono::system_clock::time_point(seconds(1709251199)), "2024-02-29T23:59:59Z"},
      {std::chrono::system_clock::time_point(seconds(1709251200)), "2024-03-01T00:00:00Z"},
  };
  for (const auto& [when, ts] : cases) {
    f.ctx.started_at = when;
    const std::string line = access_record(f.ctx);
    EXPECT_EQ(line.substr(0, 29), "{\"ts\":\"" + ts + "\",") << ts;
  }
}

TEST(AccessRecord, AppendsToTheCallersString) {
  Filled f;
  std::string out = "prefix ";
  append_access_record(out, f.ctx);
  EXPECT_EQ(out, "prefix " + access_record(f.ctx));
}

// What the access log printed before: printf("%.3f") of the millisecond double.
std::string printf_millis(nanoseconds d) {
  char num[64];
  std::snprintf(num, sizeof num, "%.3f", std::chrono::duration<double, std::milli>(d).count());
  return num;
}

std::string millis(nanoseconds d) {
  std::string out;
  append_millis(out, d);
  return out;
}

TEST(AppendMillis, Examples) {
  EXPECT_EQ(millis(nanoseconds(0)), "0.000");
  EXPECT_EQ(millis(nanoseconds(499)), "0.000");
  EXPECT_EQ(millis(nanoseconds(501)), "0.001");
  EXPECT_EQ(millis(nanoseconds(1234567)), "1.235");
  EXPECT_EQ(millis(nanoseconds(62500)), "0.062");   // an exact tie in binary: to even, as printf
  EXPECT_EQ(millis(nanoseconds(187500)), "0.188");  // likewise
  EXPECT_EQ(millis(nanoseconds(999999500)), printf_millis(nanoseconds(999999500)));
  EXPECT_EQ(millis(std::chrono::seconds(90)), "90000.000");
}

TEST(AppendMillis, SameAsPrintfForEveryNanosecondUpTo3ms) {
  for (int64_t ns = 0; ns <= 3'000'000; ++ns) {
    ASSERT_EQ(millis(nanoseconds(ns)), printf_millis(nanoseconds(ns))) << ns;
  }
}

TEST(AppendMillis, SameAsPrintfOnTiesAndRandomValues) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1'000'000; ++i) {
    // Ties (..500 ns) at every scale, their neighbours, and uniformly random values.
    const int64_t scale = int64_t{1} << (rng() % 50);
    const int64_t us = static_cast<int64_t>(rng() % static_cast<uint64_t>(scale));
    for (int64_t ns : {us * 1000 + 500, us * 1000 + 499, us * 1000 + 501, us * 1000,
                       static_cast<int64_t>(rng() % (uint64_t{1} << 53))}) {
      ASSERT_EQ(millis(nanoseconds(ns)), printf_millis(nanoseconds(ns))) << ns;
    }
  }
  // Outside the exact range: negative and very large durations still print as printf does.
  for (int64_t ns : {int64_t{-1}, int64_t{-1500}, int64_t{-1234567}, int64_t{999'999'999'999'999},
                     int64_t{1'000'000'000'000'000}, int64_t{1'000'000'000'000'500},
                     std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    EXPECT_EQ(millis(nanoseconds(ns)), printf_millis(nanoseconds(ns))) << ns;
  }
}

TEST(AccessRecord, DurationsAsPrintfWithinARecord) {
  Filled f;
  f.ctx.finished = f.ctx.started + nanoseconds(2500);  // 0.0025 ms: the double is just above the tie
  f.ctx.first_byte = f.ctx.started + nanoseconds(1500);
  const std::string line = access_record(f.ctx);
  EXPECT_NE(line.find(",\"duration_ms\":" + printf_millis(nanoseconds(2500)) +
                      ",\"ttfb_ms\":" + printf_millis(nanoseconds(1500)) + "}"),
            std::string::npos)
      << line;
}

// The record is written into a buffer sized beforehand: the longest values (every string byte escaped to
// six, the widest integers, durations printed by printf) must fit, and the string must end where the
// record does.
TEST(AccessRecord, LongestValuesFit) {
  Filled f;
  const std::string ctl(1000, '\x01');
  std::string escaped;
  for (int i = 0; i < 1000; ++i) escaped += "\\u0001";
  f.request.method = ctl;
  f.ctx.request_id = ctl;
  f.ctx.pool = ctl;
  f.ctx.backend = ctl;
  f.ctx.deployment = ctl;
  f.ctx.error_code = ctl;
  f.ctx.attempt_log = ctl;
  f.sub.name = ctl;
  f.api.name = ctl;
  f.ctx.status = std::numeric_limits<int>::min();
  f.ctx.attempts = std::numeric_limits<int>::min();
  f.ctx.usage = api::Usage{.prompt_tokens = std::numeric_limits<int64_t>::min(),
                           .completion_tokens = std::numeric_limits<int64_t>::min(),
                           .total_tokens = std::numeric_limits<int64_t>::min(),
                           .cached_tokens = std::numeric_limits<int64_t>::min(),
                           .reasoning_tokens = std::numeric_limits<int64_t>::min()};
  f.ctx.started = pipeline::SteadyTime(nanoseconds(std::numeric_limits<int64_t>::max()));
  f.ctx.finished = pipeline::SteadyTime(nanoseconds(1));
  f.ctx.first_byte = pipeline::SteadyTime(nanoseconds(0));
  std::string out = "x";
  append_access_record(out, f.ctx);
  const std::string line = out.substr(1);
  EXPECT_EQ(line.back(), '}');
  EXPECT_EQ(line.find('\0'), std::string::npos);
  EXPECT_NE(line.find(R"("request_id":")" + escaped + R"(","method":")" + escaped + R"(","api":")" + escaped),
            std::string::npos);
  EXPECT_NE(line.find(R"("error":")" + escaped + R"(","attempts":-2147483648,"attempt_log":")" + escaped),
            std::string::npos);
  EXPECT_NE(line.find(R"("reasoning_tokens":-9223372036854775808,)"), std::string::npos);
  EXPECT_NE(
      line.find(R"("duration_ms":)" + printf_millis(nanoseconds(1 - std::numeric_limits<int64_t>::max())) +
                R"(,"ttfb_ms":)" + printf_millis(nanoseconds(-std::numeric_limits<int64_t>::max())) + "}"),
      std::string::npos);
}

}  // namespace
}  // namespace spillway::proxy
