#include "util/mimalloc_release.h"

#include <mimalloc.h>

#include <mutex>

namespace spillway::util {

namespace {
// A block this large is a page of its own, taken from the thread's segments' free spans.
constexpr std::size_t kLargeBlock = 256 * 1024;
}  // namespace

bool mimalloc_release_thread_free_memory() {
  // mimalloc 2.0 decommits a freed span of pages at once only if decommit_delay is 0 when it is freed;
  // otherwise it marks it, and decommits the marked spans of a segment when the thread next allocates a
  // page there after the delay (each later free pushes that time back). So:
  //  - mi_collect frees the pages all of whose blocks are free, blocks that other threads freed included;
  //    with the delay at 0 meanwhile, their memory goes back now (with it, only at this thread's next new
  //    page in that segment);
  //  - a large block is a new page: allocating it decommits what its segment had marked past the delay
  //    (the pages freed earlier by the thread's own frees).
  // Without the first, blocks freed by other threads stay (e.g. 24 MB of them in the test); without the
  // second, the thread's own earlier frees do (tests/mimalloc/release_test.cpp).
  // The delay is process-wide: one release at a time, each putting back the value it found. A thread that
  // finds another releasing skips its turn rather than wait (a worker must not block on this).
  static std::mutex mu;
  std::unique_lock lock(mu, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  const long delay = mi_option_get(mi_option_decommit_delay);
  mi_option_set(mi_option_decommit_delay, 0);
  mi_collect(false);
  void* volatile block = mi_malloc(kLargeBlock);
  mi_free(block);
  mi_option_set(mi_option_decommit_delay, delay);
  return true;
}

}  // namespace spillway::util
