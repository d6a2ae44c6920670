#pragma once
// Process-wide logging: diagnostic lines to stderr, access-log JSON lines to stdout. Each line is written
// with a single write(2), so lines from different threads never interleave. Thread-safe. Callers never
// pass secrets.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace spillway::util {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
// Parses "debug" | "info" | "warn" | "error"; returns false on anything else.
bool parse_log_level(std::string_view text, LogLevel& out);

// "2026-11-25T03:46:55.123Z warn <message>\n" to stderr when `level` is enabled.
void log(LogLevel level, std::string_view message);
inline void log_debug(std::string_view m) { log(LogLevel::kDebug, m); }
inline void log_info(std::string_view m) { log(LogLevel::kInfo, m); }
inline void log_warn(std::string_view m) { log(LogLevel::kWarn, m); }
inline void log_error(std::string_view m) { log(LogLevel::kError, m); }

// The access log on stdout, buffered for event-loop threads: append_access_log() adds one record to the
// calling thread's buffer, written straight into it by `write(buffer, arg)` (which appends a JSON object
// without the trailing newline), and returns true when the buffer was empty, i.e. when the caller must
// arrange a call to flush_access_log() on this same thread soon (the proxy's workers: 10 ms later, so the
// lines of many requests go out in one write(2)). A buffer over 64 KiB is written at once; a thread's
// buffer is also written when it exits.
using AccessLogWriter = void (*)(std::string& buffer, const void* arg);
bool append_access_log(AccessLogWriter write, const void* arg);
void flush_access_log();

// When the calling thread's oldest unwritten line was added; nullopt when it has none.
std::optional<std::chrono::steady_clock::time_point> access_log_since();

// For a moment when the calling thread would wait anyway: writes its lines itself, now, when the oldest
// has waited kAccessLogDue and the write cannot wait for a reader: stdout is a regular file, or no
// AccessLogThread exists (the caller would write them anyway). Never while lines handed over earlier are
// waiting or being written, so every line keeps its place. Returns whether it wrote. The proxy's workers
// call it once a request has gone to its backend: the lines then go out about every millisecond while a
// backend works, in writes of a few KiB on the worker, instead of every 10 ms in writes of up to 64 KiB
// on the access-log thread (bench/RESULTS.md, "The access log written while the backend works").
inline constexpr std::chrono::milliseconds kAccessLogDue{1};
bool write_access_log_if_due();

// While one of these exists, flush_access_log() hands the calling thread's lines to a thread of their own,
// which writes them to stdout; without one, the calling thread writes them. So a request worker does not
// block while stdout is a pipe whose reader (a container's log driver, journald) falls behind. (Moving the
// 10 ms batches here did not change the one-connection p99: the write takes a CPU the requests need
// whichever thread makes it; small writes on the worker while a backend works did, see above;
// bench/RESULTS.md.) Lines are written in the order they were handed over. While more than kAccessLogBacklog
// bytes wait, a flushing thread waits for room, as its own blocking write would have. The destructor writes
// what waits and joins the thread; lines flushed after that are written by their own thread again. At most
// one exists at a time.
inline constexpr std::size_t kAccessLogBacklog = 16 << 20;
class AccessLogThread {
 public:
  AccessLogThread();
  ~AccessLogThread();
  AccessLogThread(const AccessLogThread&) = delete;
  AccessLogThread& operator=(const AccessLogThread&) = delete;
};

}  // namespace spillway::util
