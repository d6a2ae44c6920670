#include "util/allocator.h"

#include <gtest/gtest.h>

#include <vector>

namespace spillway::util {
namespace {

// The unit-test binaries do not link mimalloc (only the spillway executable does; the integration test of
// `spillway version` checks that side): the probe must not claim an allocator that is not serving malloc.
TEST(Allocator, ReportsGlibcWhenMimallocIsNotLinked) { EXPECT_EQ(allocator_name(), "glibc malloc"); }

// Without a releaser (glibc's malloc) there is nothing to do, and nothing to try again; with one, its answer
// (false: another thread was releasing) is what the caller sees, so that it tries again soon.
int calls = 0;
bool skipping_releaser() {
  ++calls;
  return false;
}

TEST(Allocator, ReleaseCallsTheInstalledReleaser) {
  EXPECT_TRUE(release_thread_free_memory());
  set_free_memory_releaser(&skipping_releaser);
  EXPECT_FALSE(release_thread_free_memory());
  EXPECT_EQ(calls, 1);
  set_free_memory_releaser(nullptr);
  EXPECT_TRUE(release_thread_free_memory());
  EXPECT_EQ(calls, 1);
}

// The schedule: nothing before kReleaseFreeMemoryEvery (plus the stagger), then one release; a skipped
// release is tried at the next tick, a done one not before the period is over again.
std::vector<bool> answers;
int schedule_calls = 0;
bool scripted_releaser() {
  const bool answer = answers.at(static_cast<std::size_t>(schedule_calls));
  ++schedule_calls;
  return answer;
}

TEST(Allocator, ReleaseScheduleWaitsThePeriodAndRetriesASkippedRelease) {
  using std::chrono::seconds;
  const auto t0 = std::chrono::steady_clock::time_point{} + seconds(1000);
  answers = {false, true, true};
  schedule_calls = 0;
  set_free_memory_releaser(&scripted_releaser);
  FreeMemoryReleaseSchedule schedule(t0, seconds(2));
  schedule.tick(t0 + kReleaseFreeMemoryEvery + seconds(1));  // before the stagger is over
  EXPECT_EQ(schedule_calls, 0);
  schedule.tick(t0 + kReleaseFreeMemoryEvery + seconds(2));  // due: skipped (another thread at it)
  EXPECT_EQ(schedule_calls, 1);
  schedule.tick(t0 + kReleaseFreeMemoryEvery + seconds(3));  // tried again at the next tick: done
  EXPECT_EQ(schedule_calls, 2);
  schedule.tick(t0 + 2 * kReleaseFreeMemoryEvery + seconds(2));  // not a period after the release yet
  EXPECT_EQ(schedule_calls, 2);
  schedule.tick(t0 + 2 * kReleaseFreeMemoryEvery + seconds(3));
  EXPECT_EQ(schedule_calls, 3);
  set_free_memory_releaser(nullptr);
}

}  // namespace
}  // namespace spillway::util
