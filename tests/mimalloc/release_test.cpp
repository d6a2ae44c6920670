// util::mimalloc_release_thread_free_memory() against mimalloc itself: this binary links mimalloc, as the
// gateway does, so malloc here is mimalloc's.

#include <gtest/gtest.h>
#include <mimalloc.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "util/allocator.h"
#include "util/mimalloc_release.h"

namespace spillway::util {
namespace {

long rss_anon_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::atol(line.c_str() + 8);
  }
  return -1;
}

// A thread that runs the jobs given to it, one at a time: its mimalloc heap is the one under test.
class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void run(const std::function<void()>& job) {
    bool done = false;
    {
      std::lock_guard lock(mu_);
      jobs_.push_back([&] {
        job();
        std::lock_guard done_lock(mu_);
        done = true;
      });
    }
    cv_.notify_all();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done; });
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

constexpr int kBlocks = 60000;   // of 400-496 bytes: about 27 MB, touched
constexpr int kKeepEvery = 640;  // one block in 640 stays allocated, as a long-lived object would

std::vector<void*> allocate(Worker& worker) {
  std::vector<void*> blocks(kBlocks);
  worker.run([&] {
    for (int i = 0; i < kBlocks; ++i) {
      blocks[i] = std::malloc(400 + (i % 7) * 16);
      std::memset(blocks[i], 1, 400);
    }
  });
  return blocks;
}

// Frees all but every kKeepEvery-th block; returns those.
std::vector<void*> free_most(std::vector<void*>& blocks) {
  std::vector<void*> kept;
  for (int i = 0; i < kBlocks; ++i) {
    if (i % kKeepEvery == 0) {
      kept.push_back(blocks[i]);
    } else {
      std::free(blocks[i]);
    }
  }
  return kept;
}

TEST(MimallocRelease, ReturnsBlocksOtherThreadsFreed) {
  ASSERT_EQ(allocator_name().rfind("mimalloc", 0), 0u) << allocator_name();
  mi_option_set(mi_option_decommit_delay, 1000);  // as the gateway runs it
  Worker worker;
  const long before = rss_anon_kib();
  std::vector<void*> blocks = allocate(worker);
  std::vector<void*> kept = free_most(blocks);  // here, not on the worker: as the usage writer does
  worker.run([] {  // the worker goes on allocating a little, as between two bursts
    for (int i = 0; i < 1000; ++i) std::free(std::malloc(400));
  });
  const long held = rss_anon_kib();
  ASSERT_GT(held - before, 20000) << "the blocks were not resident";

  worker.run([] { EXPECT_TRUE(mimalloc_release_thread_free_memory()); });
  const long released = rss_anon_kib();
  // What stays: the pages that hold a kept block (94 of them, 64 KiB each), and some of mimalloc's own.
  EXPECT_LT(released - before, (held - before) / 3)
      << "before " << before << ", held " << held << ", after release " << released << " KiB";
  EXPECT_EQ(mi_option_get(mi_option_decommit_delay), 1000);
  for (void* p : kept) std::free(p);
}

TEST(MimallocRelease, ReturnsTheThreadsOwnFreedPagesOnceTheDelayIsOver) {
  mi_option_set(mi_option_decommit_delay, 50);
  Worker worker;
  const long before = rss_anon_kib();
  std::vector<void*> blocks = allocate(worker);
  std::vector<void*> kept;
  worker.run([&] { kept = free_most(blocks); });
  const long held = rss_anon_kib();
  ASSERT_GT(held - before, 20000) << "the blocks were not resident";

  // The freed pages wait for the delay (50 ms, pushed back 1 ms by each page freed after the first):
  // released within a bounded number of tries.
  long released = held;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (released - before >= (held - before) / 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    worker.run([] { EXPECT_TRUE(mimalloc_release_thread_free_memory()); });
    released = rss_anon_kib();
  }
  EXPECT_LT(released - before, (held - before) / 3)
      << "before " << before << ", held " << held << ", after release " << released << " KiB";
  EXPECT_EQ(mi_option_get(mi_option_decommit_delay), 50);
  worker.run([&] {
    for (void* p : kept) std::free(p);
  });
  mi_option_set(mi_option_decommit_delay, 1000);
}

TEST(MimallocRelease, InstalledAsTheReleaser) {
  set_free_memory_releaser(&mimalloc_release_thread_free_memory);
  Worker worker;
  const long before = rss_anon_kib();
  std::vector<void*> blocks = allocate(worker);
  std::vector<void*> kept = free_most(blocks);
  const long held = rss_anon_kib();
  worker.run([] { EXPECT_TRUE(release_thread_free_memory()); });
  EXPECT_LT(rss_anon_kib() - before, (held - before) / 3);
  set_free_memory_releaser(nullptr);
  for (void* p : kept) std::free(p);
}

}  // namespace
}  // namespace spillway::util
