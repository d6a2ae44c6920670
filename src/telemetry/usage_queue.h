#pragma once
// A bounded multi-producer, single-consumer queue between request workers and a telemetry thread (the
// usage-log writer, the OTLP exporter).
//
// Invariants: push() never waits for the consumer; it takes one short lock, appends (allocating at most
// one chunk's buffer, once per chunk, when no emptied one is spare), and wakes the consumer only when the
// queue turns non-empty or reaches the consumer's batch size. When the queue holds
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
      if (closed_ || size_ >= capacity_) {
        ++dropped_;
        return false;
      }
      if (chunks_.empty() || chunks_.back().size() >= chunk_items_) {
        chunks_.push_back(take_spare());
        chunks_.back().reserve(chunk_items_);
      }
      chunks_.back().push_back(std::move(item));
      if (++size_ == 1) oldest_at_ = std::chrono::steady_clock::now();
      ++pushed_;
      wake = size_ == 1 || size_ == wake_at_;
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
    chunk_items_ = std::clamp<std::size_t>(max, 1, kMaxChunkItems);
    if (size_ == 0 && !closed_) {
      cv_.wait_for(lock, idle_wait, [&] { return size_ > 0 || closed_ || nudged_; });
    }
    if (size_ > 0 && !closed_ && !nudged_ && size_ < max) {
      // oldest_at_ is when the queue last turned non-empty: no later than any queued item's arrival.
      cv_.wait_until(lock, oldest_at_ + gather, [&] { return size_ >= max || closed_ || nudged_; });
    }
    nudged_ = false;
    std::size_t taken = 0;
    while (taken < max && !chunks_.empty()) {
      std::vector<T>& front = chunks_.front();
      const std::size_t k = std::min(max - taken, front.size() - head_);
      if (out.empty() && head_ == 0 && k == front.size()) {
        out.swap(front);  // the whole chunk at once; `front` now holds out's empty buffer
      } else {
        out.reserve(out.size() + k);
        for (std::size_t i = 0; i < k; ++i) out.push_back(std::move(front[head_ + i]));
        head_ += k;
      }
      taken += k;
      if (head_ >= front.size()) {
        keep_spare(std::move(front));
        chunks_.pop_front();
        head_ = 0;
      }
    }
    size_ -= taken;
    return taken;
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
    return closed_ && size_ == 0;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return size_;
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
  // Items per chunk at most, whatever the consumer's batch: a chunk's buffer is reserved whole.
  static constexpr std::size_t kMaxChunkItems = 4096;
  // Emptied chunk buffers kept for reuse. In a steady flow the consumer's emptied buffer comes back as the
  // next chunk, so one spare means no allocation; the rest are freed (after a burst).
  static constexpr std::size_t kMaxSpares = 1;

  std::vector<T> take_spare() {
    if (spares_.empty()) return {};
    std::vector<T> v = std::move(spares_.back());
    spares_.pop_back();
    return v;
  }
  void keep_spare(std::vector<T>&& v) {
    v.clear();
    if (spares_.size() < kMaxSpares && v.capacity() > 0 && v.capacity() <= 2 * chunk_items_) {
      spares_.push_back(std::move(v));
    }
  }

  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // The queued items in order: chunks of up to chunk_items_, the first one read from head_ on. The consumer
  // takes a whole chunk by swapping buffers (no per-item move or free, no allocation per push), and the
  // chunks are freed as they empty, so memory follows the backlog.
  std::deque<std::vector<T>> chunks_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::size_t chunk_items_ = 256;
  std::vector<std::vector<T>> spares_;
  std::size_t wake_at_ = 1;
  std::chrono::steady_clock::time_point oldest_at_{};
  bool closed_ = false;
  bool nudged_ = false;
  uint64_t pushed_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace spillway::telemetry
