#pragma once
// Which allocator serves malloc (and so operator new) in this process, and handing the memory it keeps
// but no longer uses back to the OS. The gateway binary links mimalloc (Debian's libmimalloc-dev), which
// takes over malloc by symbol interposition; other binaries (the unit tests) keep glibc's. Detected at run
// time, so the answer is what the process really uses, not what the build asked for.

#include <chrono>
#include <string>

namespace spillway::util {

// "mimalloc 2.0.9" when a malloc'd block lies in mimalloc's heap; "glibc malloc" otherwise.
std::string allocator_name();

// Gives the OS back the memory the calling thread's heap holds without using it. Call it on that thread,
// now and then (the workers and the usage writer's dispatcher, by a FreeMemoryReleaseSchedule), from
// a thread at normal priority (mimalloc_release.h says why). Does nothing unless the binary installed a
// releaser: the gateway installs mimalloc_release_thread_free_memory (util/mimalloc_release.h), since
// mimalloc 2.0 keeps a thread's freed pages until that thread takes a new page from the same segment a
// while later. So a burst raised RSS for good: an idle worker never returned it, a busy one hardly ever
// (bench/RESULTS.md, "The soak's slow growth"). False when it released nothing because another thread was
// releasing at that moment: try again soon.
bool release_thread_free_memory();

using FreeMemoryReleaser = bool (*)();
void set_free_memory_releaser(FreeMemoryReleaser releaser);  // before any thread calls the above

// How often the gateway's threads call release_thread_free_memory(): each call costs a worker 0.1-0.2 ms
// under load, and what a burst left behind goes back within this time.
inline constexpr std::chrono::seconds kReleaseFreeMemoryEvery{10};

// Calls release_thread_free_memory() every kReleaseFreeMemoryEvery from a thread's own loop, which calls
// tick() on each turn (at least every second or so). A release that found another thread at it is tried
// again at the next tick. `stagger` delays the first one (the workers: a second each, so they seldom meet).
class FreeMemoryReleaseSchedule {
 public:
  explicit FreeMemoryReleaseSchedule(std::chrono::steady_clock::time_point now,
                                     std::chrono::seconds stagger = std::chrono::seconds(0))
      : next_(now + kReleaseFreeMemoryEvery + stagger) {}
  void tick(std::chrono::steady_clock::time_point now) {
    if (now >= next_ && release_thread_free_memory()) next_ = now + kReleaseFreeMemoryEvery;
  }

 private:
  std::chrono::steady_clock::time_point next_;
};

}  // namespace spillway::util
