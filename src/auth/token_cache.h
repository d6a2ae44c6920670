#pragma once
// The shared state of one token credential, without I/O: the cached token, whether a fetch is in flight,
// and the retry backoff. Every worker thread asks acquire() what to do; at most one of them is told to
// fetch at a time. Thread-safe (one mutex, never held across an await: callers only call in and out).

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "util/clock.h"

namespace spillway::auth {

class TokenCache {
 public:
  enum class Action {
    kUse,            // use `value`
    kUseAndRefresh,  // use `value`, and this caller starts a background refresh
    kFetch,          // no valid token: this caller fetches one, then reports the outcome
    kWait,           // no valid token, another caller is fetching: poll peek()
    kUnavailable,    // no valid token and the last fetch failed recently (backoff): no credential now
  };
  struct Decision {
    Action action = Action::kUnavailable;
    std::string value;  // the header value when kUse / kUseAndRefresh. Never log.
  };
  struct Peek {
    std::optional<std::string> value;  // a valid token's header value
    bool fetching = false;
  };

  // A fetch running longer than `stale_after` is considered lost (e.g. its worker stopped) and no longer
  // blocks a new one.
  TokenCache(const util::Clock& clock, std::chrono::steady_clock::duration stale_after);

  Decision acquire();
  Peek peek() const;
  // Reports the fetch that acquire() asked for. The lifetime counts from the start of the fetch.
  void fetch_succeeded(std::string value, std::chrono::steady_clock::duration lifetime);
  void fetch_failed();

  // For tests and logs.
  int consecutive_failures() const;
  std::optional<std::chrono::steady_clock::time_point> refresh_at() const;
  std::optional<std::chrono::steady_clock::time_point> expires_at() const;

 private:
  bool valid_locked(std::chrono::steady_clock::time_point now) const { return value_ && now < expires_at_; }

  const util::Clock& clock_;
  const std::chrono::steady_clock::duration stale_after_;
  mutable std::mutex mutex_;
  std::optional<std::string> value_;
  std::chrono::steady_clock::time_point expires_at_{};
  std::chrono::steady_clock::time_point refresh_at_{};
  bool fetching_ = false;
  std::chrono::steady_clock::time_point fetch_started_{};
  int failures_ = 0;
  std::chrono::steady_clock::time_point next_try_at_{};  // backoff after failures
};

}  // namespace spillway::auth
