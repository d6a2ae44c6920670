#pragma once
// Time, injected: production code takes a Clock&, tests pass a ManualClock.

#include <atomic>
#include <chrono>

namespace spillway::util {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
  virtual std::chrono::system_clock::time_point system_now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point system_now() const override {
    return std::chrono::system_clock::now();
  }
  // The process-wide instance.
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point start = std::chrono::system_clock::time_point{})
      : offset_(0), system_start_(start) {}
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point{} + std::chrono::nanoseconds(offset_.load());
  }
  std::chrono::system_clock::time_point system_now() const override {
    return system_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                               std::chrono::nanoseconds(offset_.load()));
  }
  void advance(std::chrono::nanoseconds d) { offset_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> offset_;
  std::chrono::system_clock::time_point system_start_;
};

}  // namespace spillway::util
