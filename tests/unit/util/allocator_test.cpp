#include "util/allocator.h"

#include <gtest/gtest.h>

namespace spillway::util {
namespace {

// The unit-test binaries do not link mimalloc (only the spillway executable does; the integration test of
// `spillway version` checks that side): the probe must not claim an allocator that is not serving malloc.
TEST(Allocator, ReportsGlibcWhenMimallocIsNotLinked) { EXPECT_EQ(allocator_name(), "glibc malloc"); }

}  // namespace
}  // namespace spillway::util
