#include "util/clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace spillway::util {
namespace {

using std::chrono::milliseconds;

// The coarse clock reads the kernel's time as of its last tick: never ahead of the precise clocks, and
// behind them by at most a tick (4 ms at HZ=250; 50 ms leaves room for a descheduled test thread).
TEST(CoarseClock, IsAtMostATickBehindThePreciseClocksAndNeverAhead) {
  const CoarseClock& coarse = CoarseClock::instance();
  for (int i = 0; i < 1000; ++i) {
    const auto steady = coarse.steady_now();
    const auto system = coarse.system_now();
    const auto steady_after = std::chrono::steady_clock::now();
    const auto system_after = std::chrono::system_clock::now();
    ASSERT_LE(steady, steady_after);
    ASSERT_GT(steady, steady_after - milliseconds(50));
    ASSERT_LE(system, system_after);
    ASSERT_GT(system, system_after - milliseconds(50));
  }
}

TEST(CoarseClock, Advances) {
  const CoarseClock& coarse = CoarseClock::instance();
  const auto start = coarse.steady_now();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto now = start;
  while (now == start && std::chrono::steady_clock::now() < until) now = coarse.steady_now();
  EXPECT_GT(now, start);
}

}  // namespace
}  // namespace spillway::util
