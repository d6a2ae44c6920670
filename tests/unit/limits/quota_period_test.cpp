#include "limits/quota_period.h"

#include <gtest/gtest.h>

#include "util/clock.h"

namespace spillway::limits {
namespace {

using namespace std::chrono;
using config::QuotaPeriod;

SystemTime utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return sys_days(year(y) / month(m) / day(d)) + hours(hh) + minutes(mm) + seconds(ss);
}

void expect_bounds(QuotaPeriod p, SystemTime now, SystemTime start, SystemTime end) {
  const PeriodBounds b = quota_period_bounds(p, now);
  EXPECT_EQ(format_utc(b.start), format_utc(start)) << quota_period_name(p) << " at " << format_utc(now);
  EXPECT_EQ(format_utc(b.end), format_utc(end)) << quota_period_name(p) << " at " << format_utc(now);
  EXPECT_EQ(b.start, start);
  EXPECT_EQ(b.end, end);
}

TEST(QuotaPeriod, FormatsUtc) {
  EXPECT_EQ(format_utc(utc(2024, 2, 29, 13, 5, 9)), "2024-02-29T13:05:09Z");
  EXPECT_EQ(format_utc(utc(2024, 2, 29, 13, 5, 9) + milliseconds(999)), "2024-02-29T13:05:09Z");
}

TEST(QuotaPeriod, MonthEnds) {
  expect_bounds(QuotaPeriod::kMonthly, utc(2025, 1, 31, 23, 59, 59), utc(2025, 1, 1), utc(2025, 2, 1));
  expect_bounds(QuotaPeriod::kMonthly, utc(2025, 2, 1), utc(2025, 2, 1), utc(2025, 3, 1));
  expect_bounds(QuotaPeriod::kMonthly, utc(2025, 2, 28, 23, 59, 59), utc(2025, 2, 1), utc(2025, 3, 1));
  expect_bounds(QuotaPeriod::kMonthly, utc(2025, 4, 30, 12), utc(2025, 4, 1), utc(2025, 5, 1));
  expect_bounds(QuotaPeriod::kMonthly, utc(2025, 12, 31, 23, 59, 59), utc(2025, 12, 1), utc(2026, 1, 1));
}

TEST(QuotaPeriod, LeapYears) {
  expect_bounds(QuotaPeriod::kMonthly, utc(2024, 2, 29, 12), utc(2024, 2, 1), utc(2024, 3, 1));
  expect_bounds(QuotaPeriod::kMonthly, utc(2024, 3, 1), utc(2024, 3, 1), utc(2024, 4, 1));
  expect_bounds(QuotaPeriod::kDaily, utc(2024, 2, 29, 23, 59, 59), utc(2024, 2, 29), utc(2024, 3, 1));
  expect_bounds(QuotaPeriod::kDaily, utc(2023, 2, 28, 23), utc(2023, 2, 28), utc(2023, 3, 1));
  // 2100 is not a leap year, 2000 was.
  expect_bounds(QuotaPeriod::kDaily, utc(2100, 2, 28, 1), utc(2100, 2, 28), utc(2100, 3, 1));
  expect_bounds(QuotaPeriod::kDaily, utc(2000, 2, 28, 1), utc(2000, 2, 28), utc(2000, 2, 29));
  expect_bounds(QuotaPeriod::kYearly, utc(2024, 12, 31, 23, 59, 59), utc(2024, 1, 1), utc(2025, 1, 1));
}

TEST(QuotaPeriod, YearEnd) {
  expect_bounds(QuotaPeriod::kYearly, utc(2025, 1, 1), utc(2025, 1, 1), utc(2026, 1, 1));
  expect_bounds(QuotaPeriod::kYearly, utc(2024, 12, 31, 23, 59, 59) + milliseconds(999), utc(2024, 1, 1),
                utc(2025, 1, 1));
  expect_bounds(QuotaPeriod::kDaily, utc(2024, 12, 31, 23, 59, 59), utc(2024, 12, 31), utc(2025, 1, 1));
  expect_bounds(QuotaPeriod::kHourly, utc(2024, 12, 31, 23, 30), utc(2024, 12, 31, 23), utc(2025, 1, 1));
}

TEST(QuotaPeriod, WeeksStartOnMondayUtc) {
  // 2024-01-01 was a Monday.
  expect_bounds(QuotaPeriod::kWeekly, utc(2024, 1, 1), utc(2024, 1, 1), utc(2024, 1, 8));
  expect_bounds(QuotaPeriod::kWeekly, utc(2024, 1, 7, 23, 59, 59), utc(2024, 1, 1), utc(2024, 1, 8));
  expect_bounds(QuotaPeriod::kWeekly, utc(2024, 1, 8), utc(2024, 1, 8), utc(2024, 1, 15));
  // A week across the year end: Wednesday 2025-01-01 belongs to the week of Monday 2024-12-30.
  expect_bounds(QuotaPeriod::kWeekly, utc(2025, 1, 1, 9), utc(2024, 12, 30), utc(2025, 1, 6));
  // Across a leap day: Thursday 2024-02-29.
  expect_bounds(QuotaPeriod::kWeekly, utc(2024, 2, 29), utc(2024, 2, 26), utc(2024, 3, 4));
  // Sunday late, Monday early.
  expect_bounds(QuotaPeriod::kWeekly, utc(2025, 3, 2, 23, 59, 59), utc(2025, 2, 24), utc(2025, 3, 3));
  expect_bounds(QuotaPeriod::kWeekly, utc(2025, 3, 3), utc(2025, 3, 3), utc(2025, 3, 10));
}

TEST(QuotaPeriod, HoursAndDays) {
  expect_bounds(QuotaPeriod::kHourly, utc(2025, 6, 15, 10, 59, 59), utc(2025, 6, 15, 10),
                utc(2025, 6, 15, 11));
  expect_bounds(QuotaPeriod::kHourly, utc(2025, 6, 15, 11), utc(2025, 6, 15, 11), utc(2025, 6, 15, 12));
  expect_bounds(QuotaPeriod::kDaily, utc(2025, 6, 15), utc(2025, 6, 15), utc(2025, 6, 16));
}

TEST(QuotaPeriod, FollowsAnInjectedClockAcrossBoundaries) {
  util::ManualClock clock(utc(2024, 2, 28, 23, 59, 59));
  EXPECT_EQ(quota_period_bounds(QuotaPeriod::kDaily, clock.system_now()).end, utc(2024, 2, 29));
  clock.advance(seconds(1));  // leap day
  EXPECT_EQ(quota_period_bounds(QuotaPeriod::kDaily, clock.system_now()).start, utc(2024, 2, 29));
  EXPECT_EQ(quota_period_bounds(QuotaPeriod::kMonthly, clock.system_now()).start, utc(2024, 2, 1));
  clock.advance(hours(24));  // March
  EXPECT_EQ(quota_period_bounds(QuotaPeriod::kMonthly, clock.system_now()).start, utc(2024, 3, 1));
  EXPECT_EQ(quota_period_bounds(QuotaPeriod::kMonthly, clock.system_now()).end, utc(2024, 4, 1));
}

}  // namespace
}  // namespace spillway::limits
