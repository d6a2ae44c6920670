#pragma once
// How idle the machine's CPUs have been lately, from the first line of /proc/stat ("cpu  user nice system
// idle iowait irq softirq steal ..."): the fraction of all CPU time spent idle (idle + iowait) over the
// interval since the previous reading. One thread uses a meter (not thread-safe).
//
// Readings closer than `min_interval` apart return the last figure (/proc/stat counts in 10 ms ticks, so a
// shorter interval would be noise). After more than `max_gap` without a reading the figure is 0 until a
// fresh interval has been measured: a long interval would mostly describe the quiet time before a burst
// of load. Where the file cannot be read the figure is 1 (unknown: callers must not rely on it alone).
// Inside a container /proc/stat usually describes the host, not the container's CPU quota.

#include <chrono>
#include <cstdint>
#include <string>

namespace spillway::util {

class IdleMeter {
 public:
  explicit IdleMeter(std::string path = "/proc/stat",
                     std::chrono::milliseconds min_interval = std::chrono::milliseconds(100),
                     std::chrono::milliseconds max_gap = std::chrono::seconds(1));
  ~IdleMeter();
  IdleMeter(const IdleMeter&) = delete;
  IdleMeter& operator=(const IdleMeter&) = delete;

  // In [0, 1]; `now` is the caller's steady clock.
  double idle_fraction(std::chrono::steady_clock::time_point now);

 private:
  int fd_;
  std::chrono::milliseconds min_interval_;
  std::chrono::milliseconds max_gap_;
  std::chrono::steady_clock::time_point read_at_{};
  bool have_reading_ = false;
  uint64_t total_ = 0;
  uint64_t idle_ = 0;
  double fraction_;
};

}  // namespace spillway::util
