#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "routing/pool_router.h"

namespace spillway::routing {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// 1994-11-06 08:49:27 UTC, ten seconds before the dates in RFC 9110's examples.
const std::chrono::system_clock::time_point kNow =
    std::chrono::sys_days(std::chrono::year(1994) / std::chrono::November / 6) + 8h + 49min + 27s;

std::optional<milliseconds> one(const std::string& name, const std::string& value) {
  return retry_after_from_headers({{name, value}}, kNow);
}

TEST(RetryAfter, NoneWhenAbsent) {
  EXPECT_FALSE(retry_after_from_headers({}, kNow));
  EXPECT_FALSE(retry_after_from_headers(
      {{"content-type", "application/json"}, {"x-ratelimit-remaining-tokens", "0"}}, kNow));
}

TEST(RetryAfter, DeltaSeconds) {
  EXPECT_EQ(one("retry-after", "120"), milliseconds(120'000));
  EXPECT_EQ(one("retry-after", " 7 "), milliseconds(7'000));
  EXPECT_EQ(one("retry-after", "0"), milliseconds(0));
  EXPECT_EQ(one("Retry-After", "3"), milliseconds(3'000));  // names compare case-insensitively
}

TEST(RetryAfter, HttpDateInAllThreeForms) {
  EXPECT_EQ(one("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"), milliseconds(10'000));   // IMF-fixdate
  EXPECT_EQ(one("retry-after", "Sunday, 06-Nov-94 08:49:37 GMT"), milliseconds(10'000));  // RFC 850
  EXPECT_EQ(one("retry-after", "Sun Nov  6 08:49:37 1994"), milliseconds(10'000));        // asctime
  EXPECT_EQ(one("retry-after", "Mon, 07 Nov 1994 08:49:27 GMT"), milliseconds(86'400'000));
}

TEST(RetryAfter, PastHttpDateIsZero) {
  EXPECT_EQ(one("retry-after", "Sun, 06 Nov 1994 08:49:26 GMT"), milliseconds(0));
  EXPECT_EQ(one("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT"), milliseconds(0));
}

TEST(RetryAfter, RetryAfterMs) {
  EXPECT_EQ(one("retry-after-ms", "1500"), milliseconds(1500));
  EXPECT_EQ(one("retry-after-ms", "20.2"), milliseconds(21));  // rounded up
  EXPECT_EQ(one("retry-after-ms", "0"), milliseconds(0));
}

TEST(RetryAfter, RateLimitResetDurations) {
  EXPECT_EQ(one("x-ratelimit-reset-requests", "1s"), milliseconds(1'000));
  EXPECT_EQ(one("x-ratelimit-reset-tokens", "6m0s"), milliseconds(360'000));
  EXPECT_EQ(one("x-ratelimit-reset-tokens", "20ms"), milliseconds(20));
  EXPECT_EQ(one("x-ratelimit-reset-requests", "1.5s"), milliseconds(1'500));
  EXPECT_EQ(one("x-ratelimit-reset-requests", "1h2m3s"), milliseconds(3'723'000));
  EXPECT_EQ(one("x-ratelimit-reset-requests", "500us"), milliseconds(1));
  EXPECT_EQ(one("x-ratelimit-reset-requests", "2"), milliseconds(2'000));  // bare number: seconds
  EXPECT_EQ(one("x-ratelimit-reset-tokens", "0s"), milliseconds(0));
}

TEST(RetryAfter, LongestHintWins) {
  http::HeaderList headers = {{"retry-after", "1"},
                              {"retry-after-ms", "1500"},
                              {"x-ratelimit-reset-requests", "200ms"},
                              {"x-ratelimit-reset-tokens", "6m0s"}};
  EXPECT_EQ(retry_after_from_headers(headers, kNow), milliseconds(360'000));
  headers[3].second = "1s";
  EXPECT_EQ(retry_after_from_headers(headers, kNow), milliseconds(1'500));
}

TEST(RetryAfter, GarbageIsIgnored) {
  for (const char* bad : {"", "soon", "-5", "1x", "1 2", "0x10", ".", "Sun, 32 Nov 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 08:49:37 UTC", "Sun Nov  6 08:49:37 94", "Sun, 06 Nov 1994"}) {
    EXPECT_FALSE(one("retry-after", bad)) << "retry-after: '" << bad << "'";
  }
  for (const char* bad : {"", "6m0", "s", "1d", "1.5.2s", "-1s", "ms", "1s 2s"}) {
    EXPECT_FALSE(one("x-ratelimit-reset-tokens", bad)) << "x-ratelimit-reset-tokens: '" << bad << "'";
  }
  EXPECT_FALSE(one("retry-after-ms", "1s"));
  // A bad header does not hide a good one.
  EXPECT_EQ(retry_after_from_headers({{"retry-after", "later"}, {"retry-after-ms", "250"}}, kNow),
            milliseconds(250));
}

TEST(RetryAfter, AbsurdHintsAreCappedAtADay) {
  EXPECT_EQ(one("retry-after", "99999999999"), milliseconds(86'400'000));
  EXPECT_EQ(one("retry-after", "Fri, 01 Jan 2100 00:00:00 GMT"), milliseconds(86'400'000));
}

}  // namespace
}  // namespace spillway::routing
