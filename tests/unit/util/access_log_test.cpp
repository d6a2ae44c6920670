// The access log's buffered lines (util/log.h): written by the flushing thread itself, or handed to the
// access-log thread while one exists; none lost, each thread's in order. The tests point stdout at a file
// for their duration.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/log.h"

namespace spillway::util {
namespace {

void append_text(std::string& buffer, const void* text) { buffer += *static_cast<const std::string*>(text); }

// Points stdout (the file descriptor) at a new file until read() or the end of the scope.
class CapturedStdout {
 public:
  CapturedStdout() : path_(testing::TempDir() + "access_log_test_" + std::to_string(::getpid()) + ".log") {
    std::fflush(stdout);
    saved_ = ::dup(STDOUT_FILENO);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    ::dup2(fd, STDOUT_FILENO);
    ::close(fd);
  }
  ~CapturedStdout() {
    restore();
    std::remove(path_.c_str());
  }
  // Restores stdout and returns what was written to it meanwhile.
  std::string read() {
    restore();
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Appends `count` lines "<thread> <n>" from `threads` threads, flushing after every `flush_every`; the
// threads end without flushing their last lines (their buffers are flushed as they exit).
void write_from_threads(int threads, int count, int flush_every) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([=] {
      for (int n = 0; n < count; ++n) {
        const std::string text = std::to_string(t) + " " + std::to_string(n);
        append_access_log(append_text, &text);
        if ((n + 1) % flush_every == 0) flush_access_log();
      }
    });
  }
  for (auto& thread : pool) thread.join();
}

// Every thread's lines 0..count-1, each once and in order.
void expect_all_in_order(const std::vector<std::string>& lines, int threads, int count) {
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(threads * count));
  std::map<int, int> next;
  for (const std::string& line : lines) {
    int t = -1, n = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d %d", &t, &n), 2) << line;
    ASSERT_EQ(n, next[t]) << "thread " << t << " out of order";
    ++next[t];
  }
  for (int t = 0; t < threads; ++t) EXPECT_EQ(next[t], count);
}

TEST(AccessLog, WithoutTheThreadAFlushWritesAtOnce) {
  CapturedStdout out;
  const std::string text = "{\"status\":200}";
  EXPECT_TRUE(append_access_log(append_text, &text));  // the buffer was empty
  EXPECT_FALSE(append_access_log(append_text, &text));
  flush_access_log();
  EXPECT_EQ(out.read(), text + "\n" + text + "\n");
}

TEST(AccessLog, TheThreadWritesEveryLineInEachThreadsOrder) {
  CapturedStdout out;
  {
    const AccessLogThread writer;
    write_from_threads(4, 5000, 7);
  }  // the threads' last lines were handed over as they ended; the writer writes them before it ends
  expect_all_in_order(lines_of(out.read()), 4, 5000);
}

TEST(AccessLog, MoreThanTheBacklogFromTwoThreadsLosesNothing) {
  CapturedStdout out;
  {
    const AccessLogThread writer;
    // About 24 MiB from two threads in 64 KiB flushes (append_access_log's own), more than kAccessLogBacklog
    // (whether the writer falls that far behind depends on the file system).
    const std::string pad(200, 'x');
    std::vector<std::thread> pool;
    for (int t = 0; t < 2; ++t) {
      pool.emplace_back([&pad, t] {
        for (int n = 0; n < 60000; ++n) {
          const std::string text = std::to_string(t) + " " + std::to_string(n) + " " + pad;
          append_access_log(append_text, &text);
        }
        flush_access_log();
      });
    }
    for (auto& thread : pool) thread.join();
  }
  expect_all_in_order(lines_of(out.read()), 2, 60000);
}

TEST(AccessLog, AfterTheThreadEndsFlushesWriteAtOnceAgain) {
  CapturedStdout out;
  const std::string first = "first", second = "second";
  {
    const AccessLogThread writer;
    append_access_log(append_text, &first);
    flush_access_log();
  }
  append_access_log(append_text, &second);
  flush_access_log();
  EXPECT_EQ(out.read(), "first\nsecond\n");
}

// Until the oldest line has waited kAccessLogDue, nothing; then the calling thread writes its lines itself,
// at once, while an access-log thread exists (stdout is a file here).
TEST(AccessLog, DueLinesAreWrittenByTheirOwnThreadIntoAFile) {
  CapturedStdout out;
  const AccessLogThread writer;  // sees stdout a regular file
  const std::string text = "due";
  const auto before = std::chrono::steady_clock::now();
  append_access_log(append_text, &text);
  const bool early = write_access_log_if_due();
  if (std::chrono::steady_clock::now() - before < kAccessLogDue) {
    EXPECT_FALSE(early);  // too young: stays in the buffer
    EXPECT_TRUE(access_log_since().has_value());
  }
  const auto since = access_log_since();
  ASSERT_TRUE(since.has_value() || early);
  if (since) std::this_thread::sleep_until(*since + kAccessLogDue);
  if (!early) EXPECT_TRUE(write_access_log_if_due());
  EXPECT_FALSE(access_log_since().has_value());
  EXPECT_FALSE(write_access_log_if_due());  // nothing left
  EXPECT_EQ(out.read(), "due\n");           // written, with the thread still there
}

// A pipe's reader may fall behind: with an access-log thread, lines for a pipe always go through it.
TEST(AccessLog, DueLinesForAPipeStayForTheThread) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  ::dup2(fds[1], STDOUT_FILENO);
  ::close(fds[1]);
  {
    const AccessLogThread writer;  // sees stdout a pipe
    const std::string text = "piped";
    append_access_log(append_text, &text);
    std::this_thread::sleep_until(*access_log_since() + kAccessLogDue);
    EXPECT_FALSE(write_access_log_if_due());
    EXPECT_TRUE(access_log_since().has_value());
    flush_access_log();
  }  // the thread wrote it before it ended
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  char buf[64] = {};
  const ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "piped\n");
}

// Threads that hand lines over, write them themselves when due, and leave some to their exit: every line
// once, each thread's in order.
TEST(AccessLog, DueWritesAndHandOversKeepEachThreadsOrder) {
  CapturedStdout out;
  {
    const AccessLogThread writer;
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t) {
      pool.emplace_back([t] {
        for (int n = 0; n < 2000; ++n) {
          const std::string text = std::to_string(t) + " " + std::to_string(n);
          append_access_log(append_text, &text);
          if (n % 97 == 0) flush_access_log();
          if (n % 50 == 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(300));
            write_access_log_if_due();
          }
        }
      });
    }
    for (auto& thread : pool) thread.join();
  }
  expect_all_in_order(lines_of(out.read()), 4, 2000);
}

}  // namespace
}  // namespace spillway::util
