#include "telemetry/usage_queue.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <thread>

namespace spillway::telemetry {
namespace {

using std::chrono::milliseconds;

TEST(UsageQueue, DropsAndCountsWhenFull) {
  BoundedQueue<int> q(3);
  EXPECT_TRUE(q.push(1));
  EXPECT_TRUE(q.push(2));
  EXPECT_TRUE(q.push(3));
  EXPECT_FALSE(q.push(4));
  EXPECT_FALSE(q.push(5));
  EXPECT_EQ(q.pushed(), 3u);
  EXPECT_EQ(q.dropped(), 2u);
  EXPECT_EQ(q.size(), 3u);
  std::vector<int> out;
  EXPECT_EQ(q.pop_batch(out, 10, milliseconds(0), milliseconds(0)), 3u);
  EXPECT_EQ(out, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(q.push(6));  // room again
}

TEST(UsageQueue, PopBatchTakesAtMostMaxInOrder) {
  BoundedQueue<int> q(100);
  for (int i = 0; i < 10; ++i) q.push(int(i));
  std::vector<int> out;
  EXPECT_EQ(q.pop_batch(out, 4, milliseconds(0), milliseconds(0)), 4u);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2, 3}));
  out.clear();
  EXPECT_EQ(q.pop_batch(out, 100, milliseconds(0), milliseconds(0)), 6u);
  EXPECT_EQ(out.front(), 4);
  EXPECT_EQ(out.back(), 9);
}

TEST(UsageQueue, CloseDrainsWhatIsQueuedAndRejectsLaterPushes) {
  BoundedQueue<int> q(10);
  q.push(1);
  q.push(2);
  q.close();
  EXPECT_FALSE(q.push(3));
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_FALSE(q.closed_and_empty());
  std::vector<int> out;
  // Closed: no waiting even with long waits.
  EXPECT_EQ(q.pop_batch(out, 10, milliseconds(60'000), milliseconds(60'000)), 2u);
  EXPECT_TRUE(q.closed_and_empty());
  EXPECT_EQ(q.pop_batch(out, 10, milliseconds(60'000), milliseconds(60'000)), 0u);
}

TEST(UsageQueue, FullBatchEndsTheGatherWait) {
  BoundedQueue<int> q(100);
  std::thread producer([&] {
    for (int i = 0; i < 5; ++i) q.push(int(i));
  });
  std::vector<int> out;
  // Waits (bounded by 60 s) until the 5th item: a batch of 5 ends the gather early.
  while (out.size() < 5) q.pop_batch(out, 5 - out.size(), milliseconds(60'000), milliseconds(60'000));
  producer.join();
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2, 3, 4}));
}

// Items already queued are not taken at once: a busy consumer would otherwise settle on small batches.
// It waits until the oldest has waited `gather`, or until a full batch is there.
TEST(UsageQueue, QueuedItemsAreGatheredUntilTheOldestHasWaitedOrTheBatchIsFull) {
  BoundedQueue<int> q(100);
  q.push(1);
  q.push(2);
  std::vector<int> out;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(q.pop_batch(out, 10, milliseconds(0), milliseconds(30)), 2u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(29));

  out.clear();
  q.push(3);
  q.push(4);
  std::thread producer([&] {
    for (int i = 5; i <= 12; ++i) q.push(int(i));
  });
  // Bounded by 60 s; returns as soon as 10 are queued.
  EXPECT_EQ(q.pop_batch(out, 10, milliseconds(0), milliseconds(60'000)), 10u);
  producer.join();
  EXPECT_EQ(out, (std::vector<int>{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
}

TEST(UsageQueue, NudgeEndsAWait) {
  BoundedQueue<int> q(10);
  q.nudge();
  std::vector<int> out;
  EXPECT_EQ(q.pop_batch(out, 10, milliseconds(60'000), milliseconds(60'000)), 0u);  // returns at once
}

// Counts moves, to show what a queued item costs on its way through.
struct Counted {
  static inline int moves = 0;
  int value = 0;
  explicit Counted(int v) : value(v) {}
  Counted(Counted&& o) noexcept : value(o.value) { ++moves; }
  Counted& operator=(Counted&& o) noexcept {
    value = o.value;
    ++moves;
    return *this;
  }
};

// A consumer that takes whole batches gets each chunk's buffer as it is: an item is moved once, into the
// queue, and never again on the way out.
TEST(UsageQueue, WholeBatchesAreHandedOverWithoutMovingTheItems) {
  BoundedQueue<Counted> q(10'000);
  std::vector<Counted> out;
  out.reserve(64);
  EXPECT_EQ(q.pop_batch(out, 64, milliseconds(0), milliseconds(0)), 0u);  // the consumer's batch: 64
  for (int i = 0; i < 640; ++i) q.push(Counted(i));
  Counted::moves = 0;
  int expected = 0;
  for (int b = 0; b < 10; ++b) {
    out.clear();
    ASSERT_EQ(q.pop_batch(out, 64, milliseconds(0), milliseconds(0)), 64u);
    for (const Counted& c : out) EXPECT_EQ(c.value, expected++);
  }
  EXPECT_EQ(Counted::moves, 0);
  EXPECT_EQ(q.size(), 0u);
}

// Any mix of pushes and pops of any size (smaller, equal or larger than a chunk, into empty or non-empty
// vectors) yields the items in push order, never more than asked for, and size() stays exact.
TEST(UsageQueue, OrderAndCountsHoldAcrossChunksForAnyBatchSize) {
  std::mt19937 rng(12345);
  BoundedQueue<int> q(5000);
  std::deque<int> model;
  int next = 0;
  for (int step = 0; step < 3000; ++step) {
    if (rng() % 2 == 0) {
      const int n = static_cast<int>(rng() % 300);
      for (int i = 0; i < n; ++i) {
        const bool accepted = q.push(int(next));
        EXPECT_EQ(accepted, model.size() < 5000);
        if (accepted) model.push_back(next);
        ++next;
      }
    } else {
      const std::size_t max = 1 + rng() % 700;
      std::vector<int> out;
      if (rng() % 3 == 0) out.push_back(-1);  // appended after what is already there
      const std::size_t before = out.size();
      const std::size_t n = q.pop_batch(out, max, milliseconds(0), milliseconds(0));
      ASSERT_EQ(n, std::min(max, model.size()));
      ASSERT_EQ(out.size(), before + n);
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(out[before + i], model.front());
        model.pop_front();
      }
    }
    ASSERT_EQ(q.size(), model.size());
  }
}

}  // namespace
}  // namespace spillway::telemetry
