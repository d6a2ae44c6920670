#include "state/memory_store.h"

#include <algorithm>
#include <cassert>

namespace spillway::state {
namespace {

using std::chrono::floor;
using std::chrono::milliseconds;
using std::chrono::seconds;

int64_t second_of(SystemTime t) { return floor<seconds>(t.time_since_epoch()).count(); }

std::size_t slot_of(int64_t second) {
  const int64_t m = second % MemoryStore::kSlots;
  return static_cast<std::size_t>(m < 0 ? m + MemoryStore::kSlots : m);
}

// How often a shard looks for expired keys.
constexpr int64_t kSweepEverySeconds = 60;

}  // namespace

void MemoryStore::advance(Window& w, int64_t now_second) {
  if (now_second <= w.last_second) return;  // same second, or the clock stepped back: keep the ring
  if (now_second - w.last_second >= kSlots) {
    w.slots.fill(0);
    w.total = 0;
  } else {
    for (int64_t s = w.last_second + 1; s <= now_second; ++s) {
      int64_t& slot = w.slots[slot_of(s)];
      w.total -= slot;
      slot = 0;
    }
  }
  w.last_second = now_second;
}

std::chrono::seconds MemoryStore::retry_after(const Window& w, int64_t amount, int64_t limit,
                                              SystemTime now) {
  // Oldest slot first: slot s stops counting at the start of second s + kSlots.
  int64_t held = w.total;
  for (int64_t s = w.last_second - (kSlots - 1); s <= w.last_second; ++s) {
    held -= w.slots[slot_of(s)];
    if (held + amount <= limit) {
      const auto free_at = SystemTime(seconds(s + kSlots));
      const auto wait = std::chrono::ceil<seconds>(free_at - now);
      return std::max(wait, seconds(1));
    }
  }
  return seconds(kSlots);  // more than the limit: never fits (callers cap amounts at the limit)
}

void MemoryStore::sweep_locked(Shard& shard, int64_t now_second) {
  for (auto it = shard.windows.begin(); it != shard.windows.end();) {
    advance(it->second, now_second);
    if (it->second.total <= 0) {  // nothing in it counts any more
      it = shard.windows.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(shard.quotas, [&](const auto& kv) { return kv.second.expires_second <= now_second; });
}

void MemoryStore::maybe_sweep(Shard& shard, int64_t now_second) {
  if (now_second < shard.next_sweep_second) return;
  sweep_locked(shard, now_second);
  shard.next_sweep_second = now_second + kSweepEverySeconds;
}

ChargeResult MemoryStore::apply(const Charge& charge, SystemTime now) {
  const int64_t now_second = second_of(now);
  Shard& shard = shard_for(charge.key);
  std::lock_guard lock(shard.mu);
  maybe_sweep(shard, now_second);
  ChargeResult result;
  if (charge.type == CounterType::kWindow) {
    auto it = shard.windows.find(charge.key);
    if (it == shard.windows.end()) {
      if (charge.amount > charge.limit) {
        result.remaining = charge.limit;
        result.retry_after = seconds(kSlots);
        return result;
      }
      it = shard.windows.emplace(std::string(charge.key), Window{}).first;
      it->second.last_second = now_second;
    }
    Window& w = it->second;
    advance(w, now_second);
    if (w.total + charge.amount <= charge.limit) {
      w.slots[slot_of(w.last_second)] += charge.amount;
      w.total += charge.amount;
      result.granted = true;
    } else {
      result.retry_after = retry_after(w, charge.amount, charge.limit, now);
    }
    result.remaining = std::max<int64_t>(0, charge.limit - w.total);
    return result;
  }
  auto it = shard.quotas.find(charge.key);
  const int64_t used = it == shard.quotas.end() ? 0 : it->second.used;
  if (used + charge.amount <= charge.limit) {
    if (it == shard.quotas.end()) {
      it = shard.quotas.emplace(std::string(charge.key), Quota{0, second_of(charge.expires)}).first;
    }
    it->second.used += charge.amount;
    result.granted = true;
    result.remaining = std::max<int64_t>(0, charge.limit - it->second.used);
  } else {
    result.remaining = std::max<int64_t>(0, charge.limit - used);
  }
  return result;
}

void MemoryStore::take_back(const Charge& charge, SystemTime now) {
  const Adjustment undo{.type = charge.type,
                        .key = charge.key,
                        .delta = -charge.amount,
                        .limit = charge.limit,
                        .reserved_at = now,
                        .expires = charge.expires};
  adjust(std::span<const Adjustment>(&undo, 1), now, {});
}

Reservation MemoryStore::reserve(std::span<const Charge> charges, SystemTime now) {
  assert(charges.size() <= kMaxCharges);
  Reservation out;
  for (std::size_t i = 0; i < charges.size() && i < kMaxCharges; ++i) {
    out.results[i] = apply(charges[i], now);
    if (!out.results[i].granted) {
      out.refused = i;
      for (std::size_t j = i; j-- > 0;) take_back(charges[j], now);
      return out;
    }
  }
  out.granted = true;
  return out;
}

void MemoryStore::adjust(std::span<const Adjustment> adjustments, SystemTime now,
                         std::span<int64_t> remaining) {
  assert(remaining.empty() || remaining.size() == adjustments.size());
  const int64_t now_second = second_of(now);
  for (std::size_t i = 0; i < adjustments.size(); ++i) {
    const Adjustment& a = adjustments[i];
    Shard& shard = shard_for(a.key);
    std::lock_guard lock(shard.mu);
    int64_t held = 0;
    if (a.type == CounterType::kWindow) {
      auto it = shard.windows.find(a.key);
      if (it == shard.windows.end() && a.delta > 0) {
        it = shard.windows.emplace(std::string(a.key), Window{}).first;
        it->second.last_second = now_second;
      }
      if (it != shard.windows.end()) {
        Window& w = it->second;
        advance(w, now_second);
        // A grant from "the future" (the clock stepped back since) sits in the newest slot.
        const int64_t granted_second = std::min(second_of(a.reserved_at), w.last_second);
        const bool in_window = w.last_second - granted_second < kSlots;
        if (a.delta < 0) {
          if (in_window) {
            int64_t& slot = w.slots[slot_of(granted_second)];
            const int64_t take = std::min(-a.delta, slot);
            slot -= take;
            w.total -= take;
          }
        } else if (a.delta > 0) {
          w.slots[slot_of(in_window ? granted_second : w.last_second)] += a.delta;
          w.total += a.delta;
        }
        held = w.total;
      }
    } else {
      auto it = shard.quotas.find(a.key);
      if (it == shard.quotas.end() && a.delta > 0) {
        it = shard.quotas.emplace(std::string(a.key), Quota{0, second_of(a.expires)}).first;
      }
      if (it != shard.quotas.end()) {
        it->second.used = std::max<int64_t>(0, it->second.used + a.delta);
        held = it->second.used;
      }
    }
    if (!remaining.empty()) remaining[i] = std::max<int64_t>(0, a.limit - held);
  }
}

int64_t MemoryStore::window_used(std::string_view key, SystemTime now) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.windows.find(key);
  if (it == shard.windows.end()) return 0;
  advance(it->second, second_of(now));
  return it->second.total;
}

int64_t MemoryStore::quota_used(std::string_view key, SystemTime) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.quotas.find(key);
  return it == shard.quotas.end() ? 0 : it->second.used;
}

std::size_t MemoryStore::size() {
  std::size_t n = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.windows.size() + shard.quotas.size();
  }
  return n;
}

void MemoryStore::sweep(SystemTime now) {
  const int64_t now_second = second_of(now);
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    sweep_locked(shard, now_second);
    shard.next_sweep_second = now_second + kSweepEverySeconds;
  }
}

}  // namespace spillway::state
