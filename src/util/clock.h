#pragma once
// Time, injected: production code takes a Clock&, tests pass a ManualClock.

#include <time.h>

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

// The kernel's time as of its last tick (CLOCK_MONOTONIC_COARSE, CLOCK_REALTIME_COARSE): up to a tick
// (1-4 ms) behind, and some 3 ns to read instead of 25. For what decides in milliseconds or more and is
// asked on every request (the limits' windows, the routers' breakers), never to time a request. Its
// steady_now() may be up to a tick behind steady_clock::now(): compare its times with each other.
class CoarseClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(read(CLOCK_MONOTONIC_COARSE));
  }
  std::chrono::system_clock::time_point system_now() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(read(CLOCK_REALTIME_COARSE)));
  }
  static const CoarseClock& instance() {
    static const CoarseClock clock;
    return clock;
  }

 private:
  static std::chrono::nanoseconds read(clockid_t id) {
    timespec t{};
    clock_gettime(id, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
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
