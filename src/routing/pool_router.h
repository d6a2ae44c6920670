#pragma once
// Member selection for one backend pool: priorities, smooth weighted round robin within a priority, and a
// circuit breaker per member. No I/O: the proxy asks for a member, makes the attempt and reports back.
//
// Invariants (per member):
//   - kClosed: eligible. Breaker-matching outcomes are counted in a sliding window of `within`; the
//     `failures`-th one inside the window opens the member. A 429 that carries a retry-after hint (with
//     `honor_retry_after`) opens it at once, whatever the count.
//   - kOpen: never picked before open_until (steady clock). open_until is now + retry-after when the
//     opening outcome carried one and `honor_retry_after` is on, else now + open_for.
//   - kHalfOpen: reached lazily, by the first pick at or after open_until. At most one probe is
//     outstanding; only the probe's outcome changes the state (success -> kClosed with the window
//     cleared, failure -> kOpen again, abandoned or an ignored connect error -> the slot is freed and
//     the next pick probes again).
//   - Outcomes of requests picked before the member opened (not probes) are counted in health but leave
//     an open or half-open breaker alone, except that a later 429 retry-after hint extends open_until.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "http/types.h"
#include "util/clock.h"

namespace spillway::routing {

enum class MemberState { kClosed, kOpen, kHalfOpen };

// "closed", "open", "half_open".
std::string_view member_state_name(MemberState s);

// The result of one attempt on a member.
struct Outcome {
  enum Kind {
    kResponse,      // the backend answered with `status` (status 0 is treated as kAbandoned)
    kConnectError,  // could not connect / TLS failed / connection reset before a response
    kTimeout,       // a deadline passed before the response head arrived
    kAbandoned,     // the attempt ended without a verdict (client left, shutdown): frees a probe slot
  };
  Kind kind = kResponse;
  int status = 0;
  // From retry_after_from_headers(); only meaningful with kResponse.
  std::optional<std::chrono::milliseconds> retry_after;
};

// A member chosen for one attempt. Hand it back to record() unchanged.
struct Pick {
  std::size_t member = 0;  // index into config::Pool::members
  bool probe = false;      // the single trial request of a half-open member
};

struct MemberHealth {
  std::string backend;
  int priority = 1;
  int weight = 1;
  MemberState state = MemberState::kClosed;
  std::optional<std::chrono::system_clock::time_point> open_until;  // set when state is kOpen
  bool opened_by_rate_limit = false;  // the current open/half-open state was caused by a 429
  // Outcomes over the last minute (in 6 s buckets, so between 54 and 60 s):
  uint64_t successes = 0;     // any answer other than 429 and 5xx
  uint64_t failures = 0;      // 5xx, connect errors, timeouts
  uint64_t rate_limited = 0;  // 429
};

// One per pool, shared by all worker threads. Thread-safe: every call takes a per-router mutex held for a
// short, allocation-free section (health() allocates its result outside it). Never blocks on I/O.
class PoolRouter {
 public:
  // At most 64 members take part in `tried` masks; config::Pool members beyond that are never picked.
  // `clock` must outlive the router.
  PoolRouter(const config::Pool& pool, const util::Clock& clock);
  PoolRouter(const PoolRouter&) = delete;
  PoolRouter& operator=(const PoolRouter&) = delete;

  // The next member to try, skipping members whose bit is set in `tried` (bit i = member i already tried
  // in this client request) and members whose breaker is open, or half-open with its probe taken. Members
  // of the lowest priority number among the eligible ones are used, spread by weight (smooth weighted
  // round robin); a half-open member whose probe is free goes first within its priority. nullopt when no
  // member is eligible.
  // REQUIRES: every returned Pick is passed to record() exactly once.
  std::optional<Pick> pick(uint64_t tried);

  // Reports the result of the attempt made for `pick`.
  void record(const Pick& pick, const Outcome& outcome);

  // The time until the soonest open member becomes eligible again (0 when one already is, e.g. its
  // open_until has passed); nullopt when no member is open. For Retry-After when pick() found nothing.
  std::optional<std::chrono::milliseconds> soonest_available() const;

  // A snapshot of every member, in config order.
  std::vector<MemberHealth> health() const;

  // Whether `outcome` should make the request move on to another member: a status in `retry.on`, a
  // connect error or a timeout. Abandoned attempts are not retried.
  bool should_retry(const Outcome& outcome) const;

  // Attempts in all per client request, the first included (retry.max_attempts).
  int max_attempts() const { return retry_.max_attempts; }

  const std::string& pool_name() const { return pool_name_; }
  std::size_t size() const { return members_.size(); }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  static constexpr int kBuckets = 10;
  static constexpr std::chrono::seconds kBucketWidth{6};

  struct Counts {
    int64_t epoch = -1;  // bucket index since the steady epoch; -1 = empty
    uint64_t successes = 0;
    uint64_t failures = 0;
    uint64_t rate_limited = 0;
  };

  struct Member {
    std::string backend;
    int priority = 1;
    int weight = 1;
    int64_t current_weight = 0;  // smooth weighted round robin state
    MemberState state = MemberState::kClosed;
    SteadyTime open_until{};
    bool probe_outstanding = false;
    bool opened_by_rate_limit = false;
    std::vector<SteadyTime> failure_times;  // ring of the last `failures` matching outcomes
    std::size_t failure_next = 0;           // next slot to write
    std::size_t failure_count = 0;          // slots in use
    Counts buckets[kBuckets];
  };

  bool is_breaker_failure(const Outcome& outcome) const;
  void count(Member& m, const Outcome& outcome, SteadyTime now);
  void open(Member& m, SteadyTime now, const Outcome& cause);
  void close(Member& m);
  // Moves an open member whose time has come to half-open.
  static void refresh(Member& m, SteadyTime now);

  const util::Clock& clock_;
  const std::string pool_name_;
  const config::RetrySettings retry_;
  const config::CircuitBreakerSettings breaker_;
  mutable std::mutex mu_;
  std::vector<Member> members_;  // guarded by mu_ (the vector itself never changes size)
};

// The longest wait a backend asked for, from `Retry-After` (delta-seconds or HTTP-date, relative to
// `now`), `retry-after-ms`, `x-ratelimit-reset-requests` and `x-ratelimit-reset-tokens` (delta-seconds
// or Go-style durations such as "1s", "6m0s", "20ms", "1.5s"). Unparsable values are ignored; nullopt
// when none is present and valid. Past HTTP-dates give 0.
std::optional<std::chrono::milliseconds> retry_after_from_headers(const http::HeaderList& headers,
                                                                  std::chrono::system_clock::time_point now);

}  // namespace spillway::routing
