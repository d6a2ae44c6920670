#pragma once
// The in-process Store: counters in 64 shards chosen by key hash, each a small mutex and two hash maps
// (windows, quota buckets), so concurrent requests on different keys rarely meet and there is no global
// lock. A window is a ring of 61 one-second slots. Idle keys are dropped: a shard sweeps itself at most
// once a minute (windows that hold nothing any more, quota buckets whose period has ended).

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "state/store.h"

namespace spillway::state {

class MemoryStore final : public Store {
 public:
  static constexpr std::size_t kShards = 64;
  static constexpr int64_t kSlots = kWindowSeconds + 1;

  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  std::string_view kind() const override { return "memory"; }
  Reservation reserve(std::span<const Charge> charges, SystemTime now) override;
  void adjust(std::span<const Adjustment> adjustments, SystemTime now, std::span<int64_t> remaining) override;

  // What a key holds now (tests, admin). 0 for unknown keys.
  int64_t window_used(std::string_view key, SystemTime now);
  int64_t quota_used(std::string_view key, SystemTime now);
  // Live keys of both kinds (tests: expiry).
  std::size_t size();
  // Drops what has expired in every shard now (tests; the store also does it by itself).
  void sweep(SystemTime now);

 private:
  struct Window {
    std::array<int64_t, kSlots> slots{};  // slot of second s: s mod kSlots
    int64_t last_second = 0;              // the latest second the ring was advanced to
    int64_t total = 0;                    // sum of slots
  };
  struct Quota {
    int64_t used = 0;
    int64_t expires_second = 0;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using Map = std::unordered_map<std::string, V, KeyHash, std::equal_to<>>;

  struct alignas(64) Shard {
    std::mutex mu;
    Map<Window> windows;
    Map<Quota> quotas;
    int64_t next_sweep_second = 0;
  };

  Shard& shard_for(std::string_view key) { return shards_[KeyHash{}(key) % kShards]; }
  static void advance(Window& w, int64_t now_second);
  static std::chrono::seconds retry_after(const Window& w, int64_t amount, int64_t limit, SystemTime now);
  // REQUIRES: shard.mu held.
  static void maybe_sweep(Shard& shard, int64_t now_second);
  static void sweep_locked(Shard& shard, int64_t now_second);
  ChargeResult apply(const Charge& charge, SystemTime now);
  void take_back(const Charge& charge, SystemTime now);

  std::array<Shard, kShards> shards_;
};

}  // namespace spillway::state
