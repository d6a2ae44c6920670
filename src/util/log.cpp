#include "util/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>

namespace spillway::util {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) return;  // nowhere to report a failing log sink
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void append_timestamp(std::string& out) {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const int n =
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  out.append(buf, static_cast<std::size_t>(n));
}

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

constexpr std::size_t kAccessFlushBytes = 64 << 10;

struct AccessBuffer {
  std::string lines;
  ~AccessBuffer() { write_all(STDOUT_FILENO, lines); }
};

AccessBuffer& access_buffer() {
  thread_local AccessBuffer buffer;
  return buffer;
}

}  // namespace

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

bool parse_log_level(std::string_view text, LogLevel& out) {
  for (int i = 0; i < 4; ++i) {
    if (text == kLevelNames[i]) {
      out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

void log(LogLevel level, std::string_view message) {
  if (!log_enabled(level)) return;
  std::string line;
  line.reserve(message.size() + 40);
  append_timestamp(line);
  line.push_back(' ');
  line.append(kLevelNames[static_cast<int>(level)]);
  line.push_back(' ');
  line.append(message);
  line.push_back('\n');
  write_all(STDERR_FILENO, line);
}

bool append_access_log(AccessLogWriter write, const void* arg) {
  std::string& lines = access_buffer().lines;
  const bool first = lines.empty();
  write(lines, arg);
  lines.push_back('\n');
  if (lines.size() >= kAccessFlushBytes) {
    flush_access_log();
    return false;
  }
  return first;
}

void flush_access_log() {
  std::string& lines = access_buffer().lines;
  write_all(STDOUT_FILENO, lines);
  lines.clear();
}

}  // namespace spillway::util
