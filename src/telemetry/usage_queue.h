#pragma once
// A bounded multi-producer, single-consumer queue between request workers and a telemetry thread (the
// usage-log writer, the OTLP exporter).
//
// Invariants: push() never waits for the consumer; it takes one short lock, appends, and wakes the
// consumer only when the queue turns non-empty or reaches the consumer's batch size. When the queue holds
// `capacity` items, push() drops the item and counts it (dropped()): the last resort, so a stalled disk
// or collector can never hold up requests or grow memory without bound. pushed() + dropped() is the
// number of push() calls.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace spillway::telemetry {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

  // Any thread. False when the item was dropped (queue full or closed).
  bool push(T&& item) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() >= capacity_) {
        ++dropped_;
        return false;
      }
      items_.push_back(std::move(item));
      if (items_.size() == 1) oldest_at_ = std::chrono::steady_clock::now();
      ++pushed_;
      wake = items_.size() == 1 || items_.size() == wake_at_;
    }
    if (wake) cv_.notify_one();
    return true;
  }

  // The consumer. When the queue is empty, waits up to `idle_wait` for a first item. Then, until `max` items
  // are present, waits for more until the oldest queued item has waited `gather` (batching: under load a
  // consumer that takes whatever arrived while it wrote would settle on small batches, each with its
  // commit's fixed cost). Moves up to `max` items into `out` (appended) and returns how many. Returns at
  // once after close() or nudge().
  std::size_t pop_batch(std::vector<T>& out, std::size_t max, std::chrono::milliseconds idle_wait,
                        std::chrono::milliseconds gather) {
    std::unique_lock lock(mu_);
    wake_at_ = max;
    if (items_.empty() && !closed_) {
      cv_.wait_for(lock, idle_wait, [&] { return !items_.empty() || closed_ || nudged_; });
    }
    if (!items_.empty() && !closed_ && !nudged_ && items_.size() < max) {
      // oldest_at_ is when the queue last turned non-empty: no later than any queued item's arrival.
      cv_.wait_until(lock, oldest_at_ + gather, [&] { return items_.size() >= max || closed_ || nudged_; });
    }
    nudged_ = false;
    const std::size_t n = std::min(max, items_.size());
    out.reserve(out.size() + n);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return n;
  }

  // Ends the current or next wait of pop_batch() early (e.g. a flush was asked for).
  void nudge() {
    {
      std::lock_guard lock(mu_);
      nudged_ = true;
    }
    cv_.notify_one();
  }

  // Later pushes are dropped; pop_batch() no longer waits. Items already queued stay to be drained.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  bool closed_and_empty() const {
    std::lock_guard lock(mu_);
    return closed_ && items_.empty();
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  std::size_t capacity() const { return capacity_; }
  uint64_t pushed() const {
    std::lock_guard lock(mu_);
    return pushed_;
  }
  uint64_t dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  std::size_t wake_at_ = 1;
  std::chrono::steady_clock::time_point oldest_at_{};
  bool closed_ = false;
  bool nudged_ = false;
  uint64_t pushed_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace spillway::telemetry
