#pragma once
// State the mock shares between its worker threads: the request log, the simulated TPM window and the
// fail-rate dice. Every class here is thread-safe; each call takes one short internal lock.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <utility>

namespace spillway::mock {

// The last `capacity` requests received, each kept as a rendered JSON object.
class RequestLog {
 public:
  explicit RequestLog(std::size_t capacity) : capacity_(capacity) {}
  // Appends one entry, dropping the oldest when full. `entry_json` must be a complete JSON value.
  void add(std::string entry_json);
  // A JSON array of the kept entries, oldest first.
  std::string to_json() const;
  void clear();

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::deque<std::string> entries_;
};

// A sliding window of tokens served, like an Azure OpenAI deployment's tokens-per-minute limit: a request
// is admitted while the tokens served in the last `window` are below the capacity, and then counts in
// full (so one large request may overshoot, as on Azure).
// Requests admitted within kMergeWithin of the newest entry join it and move its time forward, which
// bounds the memory at high request rates; tokens then expire up to kMergeWithin late, never early.
class TokenWindow {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kMergeWithin = std::chrono::milliseconds(10);

  struct Decision {
    bool admitted = false;
    int64_t remaining = 0;                     // capacity minus the tokens in the window, at least 0
    std::chrono::milliseconds retry_after{0};  // when refused: until the window drops below capacity
  };

  // REQUIRES: capacity > 0.
  explicit TokenWindow(int64_t capacity, Clock::duration window = std::chrono::seconds(60))
      : capacity_(capacity), window_(window) {}

  // Admits and records `tokens` at `now`, or refuses without recording. `now` never goes backwards.
  Decision try_admit(int64_t tokens, Clock::time_point now);
  void clear();

 private:
  void expire(Clock::time_point now);

  const int64_t capacity_;
  const Clock::duration window_;
  std::mutex mu_;
  std::deque<std::pair<Clock::time_point, int64_t>> entries_;  // oldest first
  int64_t total_ = 0;                                          // sum of entries_
};

// Seeded Bernoulli draws: the same seed gives the same sequence of outcomes on every platform.
class FailDice {
 public:
  FailDice(double probability, uint64_t seed) : probability_(probability), rng_(seed) {}
  // True with the configured probability. Never draws (and never locks) when the probability is 0.
  bool roll();

 private:
  const double probability_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

}  // namespace spillway::mock
