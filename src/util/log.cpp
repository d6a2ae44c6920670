#include "util/log.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

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

// The state of the access-log thread (AccessLogThread), shared with the flushing threads. Never destroyed:
// threads that end after main() returns still flush their buffers through it.
struct AccessQueue {
  std::mutex mu;
  std::condition_variable work;  // lines to write, or stop
  std::condition_variable room;  // the backlog went down
  std::deque<std::string> pending;
  std::size_t pending_bytes = 0;   // handed over and not written yet, the batch being written included
  std::vector<std::string> spare;  // written buffers, cleared, for the flushing threads to reuse
  bool running = false;
  bool stop = false;
  bool stdout_is_file = false;  // a regular file when the thread started: its writes never wait for a reader
  int direct_writers = 0;       // threads writing their own lines (write_access_log_if_due)
  std::thread thread;
};

AccessQueue& access_queue() {
  static AccessQueue* q = new AccessQueue;
  return *q;
}

void run_access_log_thread(AccessQueue& q) {
  pthread_setname_np(pthread_self(), "spw-access-log");
  std::unique_lock lock(q.mu);
  for (;;) {
    q.work.wait(lock, [&] { return (q.stop || !q.pending.empty()) && q.direct_writers == 0; });
    if (q.pending.empty()) return;  // stopping, and all written
    std::string lines = std::move(q.pending.front());
    q.pending.pop_front();
    lock.unlock();
    write_all(STDOUT_FILENO, lines);
    const std::size_t n = lines.size();
    lines.clear();
    lock.lock();
    q.pending_bytes -= n;
    if (q.spare.size() < 16 && lines.capacity() <= 2 * kAccessFlushBytes) q.spare.push_back(std::move(lines));
    q.room.notify_all();
  }
}

// Writes `lines` or hands them to the access-log thread, and leaves `lines` empty.
void flush_lines(std::string& lines) {
  if (lines.empty()) return;
  AccessQueue& q = access_queue();
  {
    std::unique_lock lock(q.mu);
    q.room.wait(lock, [&] { return !q.running || q.pending_bytes < kAccessLogBacklog; });
    if (q.running) {
      q.pending_bytes += lines.size();
      q.pending.push_back(std::move(lines));
      lines.clear();  // a moved-from string is valid but unspecified
      if (!q.spare.empty()) {
        lines.swap(q.spare.back());
        q.spare.pop_back();
      }
      q.work.notify_one();
      return;
    }
  }
  write_all(STDOUT_FILENO, lines);
  lines.clear();
}

struct AccessBuffer {
  std::string lines;
  std::chrono::steady_clock::time_point since;  // when `lines` last turned non-empty
  ~AccessBuffer() { flush_lines(lines); }
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
  AccessBuffer& buffer = access_buffer();
  std::string& lines = buffer.lines;
  const bool first = lines.empty();
  if (first) buffer.since = std::chrono::steady_clock::now();
  write(lines, arg);
  lines.push_back('\n');
  if (lines.size() >= kAccessFlushBytes) {
    flush_access_log();
    return false;
  }
  return first;
}

void flush_access_log() { flush_lines(access_buffer().lines); }

std::optional<std::chrono::steady_clock::time_point> access_log_since() {
  const AccessBuffer& buffer = access_buffer();
  if (buffer.lines.empty()) return std::nullopt;
  return buffer.since;
}

bool write_access_log_if_due() {
  AccessBuffer& buffer = access_buffer();
  if (buffer.lines.empty() || std::chrono::steady_clock::now() - buffer.since < kAccessLogDue) return false;
  AccessQueue& q = access_queue();
  {
    std::lock_guard lock(q.mu);
    // With the thread: only into a file, and only when nothing handed over earlier is still to be written
    // (or being written, by the thread or another thread here), so that the lines keep their order.
    if (q.running && (!q.stdout_is_file || q.pending_bytes > 0 || q.direct_writers > 0)) {
      return false;
    }
    ++q.direct_writers;
  }
  write_all(STDOUT_FILENO, buffer.lines);
  buffer.lines.clear();
  {
    std::lock_guard lock(q.mu);
    --q.direct_writers;
  }
  q.work.notify_one();  // lines handed over meanwhile waited for this write
  return true;
}

AccessLogThread::AccessLogThread() {
  AccessQueue& q = access_queue();
  struct stat st {};
  const bool is_file = ::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode);
  std::lock_guard lock(q.mu);
  q.stop = false;
  q.stdout_is_file = is_file;
  try {
    q.thread = std::thread(run_access_log_thread, std::ref(q));
    q.running = true;
  } catch (const std::system_error&) {
    // No thread to be had: the flushing threads keep writing their own lines.
  }
}

AccessLogThread::~AccessLogThread() {
  AccessQueue& q = access_queue();
  if (!q.thread.joinable()) return;
  {
    std::lock_guard lock(q.mu);
    q.stop = true;
  }
  q.work.notify_all();
  q.thread.join();  // it has written what it found waiting
  std::lock_guard lock(q.mu);
  q.running = false;  // from now on the flushing threads write their own lines
  // Lines handed over after the thread's last look at the queue: written here, still in order.
  for (; !q.pending.empty(); q.pending.pop_front()) write_all(STDOUT_FILENO, q.pending.front());
  q.pending_bytes = 0;
  q.spare.clear();
  q.room.notify_all();
}

}  // namespace spillway::util
