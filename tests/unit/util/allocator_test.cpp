#include "util/allocator.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace spillway::util
