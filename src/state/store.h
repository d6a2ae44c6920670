#pragma once
// The state store: counters that limits reserve in, shared by every worker (and, with the Redis store, by
// every instance). Two kinds of counter:
//
//  - sliding windows (tokens or requests per minute): an amount added at time t counts in 1 s slots until
//    the end of second floor(t) + 60, that is for between 60 and 61 seconds. So any two grants less than
//    60 s apart are always counted together: whatever was granted within any 60 s interval fits the limit.
//  - quota buckets (tokens per calendar period): a plain sum, one bucket per counter and period (the period
//    is part of the key), dropped once its period has ended.
//
// A reservation is a list of charges that is granted as a whole or not at all: a store checks and adds them
// in order and, at the first charge that does not fit, takes back what it added. The check-and-add of each
// key is atomic, so a key never holds more than its limit because of concurrent grants.
//
// The memory store answers synchronously (needs_io() false). A store that does I/O (Redis) answers
// through reserve_async and applies adjust() in the background: adjust never blocks.

#include <array>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

namespace spillway::state {

using SystemTime = std::chrono::system_clock::time_point;

inline constexpr int64_t kWindowSeconds = 60;
// How many charges one reservation may carry.
inline constexpr std::size_t kMaxCharges = 4;

enum class CounterType { kWindow, kQuota };

struct Charge {
  CounterType type = CounterType::kWindow;
  std::string_view key;
  int64_t amount = 0;  // >= 0
  int64_t limit = 0;   // > 0; the key never holds more than this because of a grant
  SystemTime expires;  // kQuota: when the bucket may be dropped (the end of its period)
};

struct ChargeResult {
  bool granted = false;
  int64_t remaining = 0;  // limit minus what the key holds afterwards (>= 0)
  // Refused window charges: how long until enough has left the window for this amount to fit, counting
  // only what the window holds now (settlements of requests in flight may free tokens earlier). >= 1 s.
  std::chrono::seconds retry_after{0};
};

struct Reservation {
  bool granted = false;
  std::size_t refused = 0;  // when !granted: index of the first charge that did not fit
  std::array<ChargeResult, kMaxCharges> results{};  // results[i] for every i <= refused (all when granted)
};

// Changes what an earlier grant added, once the real amount is known.
struct Adjustment {
  CounterType type = CounterType::kWindow;
  std::string_view key;
  int64_t delta = 0;       // real amount minus granted amount; may be negative
  int64_t limit = 0;       // for the remaining value
  SystemTime reserved_at;  // kWindow: the `now` of the grant (selects its slot)
  SystemTime expires;      // kQuota: as in the grant
};

class Store {
 public:
  virtual ~Store() = default;
  virtual std::string_view kind() const = 0;  // "memory", "redis"
  // True when reserve() would need I/O: callers use reserve_async() then.
  virtual bool needs_io() const { return false; }

  // REQUIRES: charges.size() <= kMaxCharges.
  virtual Reservation reserve(std::span<const Charge> charges, SystemTime now) = 0;
  // The default calls reserve(). REQUIRES: `charges` and the keys stay valid until it completes.
  virtual boost::asio::awaitable<Reservation> reserve_async(std::span<const Charge> charges, SystemTime now);

  // Window adjustments with a negative delta take back only what is still in the window; a positive delta
  // is charged to the grant's slot, or to the current second when that slot has left the window. Quota
  // adjustments apply to the bucket (a negative one never takes it below zero). remaining[i] (when
  // remaining is not empty) receives the key's remaining amount afterwards, or -1 when the store cannot
  // tell without I/O. Never blocks. REQUIRES: remaining is empty or as long as adjustments.
  virtual void adjust(std::span<const Adjustment> adjustments, SystemTime now,
                      std::span<int64_t> remaining) = 0;
};

}  // namespace spillway::state
