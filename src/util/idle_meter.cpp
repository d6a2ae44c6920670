#include "util/idle_meter.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace spillway::util {

IdleMeter::IdleMeter(std::string path, std::chrono::milliseconds min_interval,
                     std::chrono::milliseconds max_gap)
    : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)),
      min_interval_(min_interval),
      max_gap_(max_gap),
      fraction_(fd_ >= 0 ? 0 : 1) {}

IdleMeter::~IdleMeter() {
  if (fd_ >= 0) ::close(fd_);
}

double IdleMeter::idle_fraction(std::chrono::steady_clock::time_point now) {
  if (fd_ < 0 || (have_reading_ && now - read_at_ < min_interval_)) return fraction_;
  char buf[512];
  const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
  if (n <= 0) return fraction_;
  buf[n] = '\0';
  if (std::strncmp(buf, "cpu ", 4) != 0) return fraction_;
  uint64_t total = 0;
  uint64_t idle = 0;
  const char* p = buf + 4;
  for (int field = 0; field < 8; ++field) {  // user nice system idle iowait irq softirq steal
    char* end = nullptr;
    const unsigned long long v = std::strtoull(p, &end, 10);
    if (end == p) break;
    p = end;
    total += v;
    if (field == 3 || field == 4) idle += v;
  }
  if (!have_reading_ || now - read_at_ > max_gap_ || total < total_ || idle < idle_) {
    fraction_ = 0;  // no fresh interval yet
  } else if (total > total_) {
    fraction_ = static_cast<double>(idle - idle_) / static_cast<double>(total - total_);
  }
  total_ = total;
  idle_ = idle;
  read_at_ = now;
  have_reading_ = true;
  return fraction_;
}

}  // namespace spillway::util
