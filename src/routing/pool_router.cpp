#include "routing/pool_router.h"

#include <algorithm>
#include <climits>

namespace spillway::routing {

namespace {

constexpr std::size_t kMaxMembers = 64;  // members that fit a `tried` mask

bool positive(const std::optional<std::chrono::milliseconds>& d) { return d && d->count() > 0; }

bool is_abandoned(const Outcome& o) {
  return o.kind == Outcome::kAbandoned || (o.kind == Outcome::kResponse && o.status == 0);
}

}  // namespace

std::string_view member_state_name(MemberState s) {
  switch (s) {
    case MemberState::kClosed:
      return "closed";
    case MemberState::kOpen:
      return "open";
    case MemberState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

PoolRouter::PoolRouter(const config::Pool& pool, const util::Clock& clock)
    : clock_(clock), pool_name_(pool.name), retry_(pool.retry), breaker_(pool.circuit_breaker) {
  members_.resize(pool.members.size());
  const std::size_t ring = static_cast<std::size_t>(std::max(1, breaker_.failures));
  for (std::size_t i = 0; i < pool.members.size(); ++i) {
    Member& m = members_[i];
    m.backend = pool.members[i].backend;
    m.priority = pool.members[i].priority;
    m.weight = std::max(1, pool.members[i].weight);
    m.failure_times.resize(ring);
  }
}

void PoolRouter::refresh(Member& m, SteadyTime now) {
  if (m.state == MemberState::kOpen && now >= m.open_until) {
    m.state = MemberState::kHalfOpen;
    m.probe_outstanding = false;
  }
}

std::optional<Pick> PoolRouter::pick(uint64_t tried) {
  const SteadyTime now = clock_.steady_now();
  const std::size_t n = std::min(members_.size(), kMaxMembers);
  std::lock_guard lock(mu_);

  uint64_t eligible = 0;
  int best_priority = INT_MAX;
  for (std::size_t i = 0; i < n; ++i) {
    if (tried & (uint64_t{1} << i)) continue;
    Member& m = members_[i];
    refresh(m, now);
    const bool ok =
        m.state == MemberState::kClosed || (m.state == MemberState::kHalfOpen && !m.probe_outstanding);
    if (!ok) continue;
    eligible |= uint64_t{1} << i;
    best_priority = std::min(best_priority, m.priority);
  }
  if (eligible == 0) return std::nullopt;

  // A half-open member's probe goes first within its priority, so a recovered member returns promptly.
  for (std::size_t i = 0; i < n; ++i) {
    Member& m = members_[i];
    if ((eligible & (uint64_t{1} << i)) && m.priority == best_priority && m.state == MemberState::kHalfOpen) {
      m.probe_outstanding = true;
      return Pick{i, true};
    }
  }

  // Smooth weighted round robin (nginx): raise every candidate by its weight, take the highest, lower it
  // by the sum. Over a full cycle each member is chosen exactly `weight` times, interleaved.
  int64_t total = 0;
  std::size_t best = n;
  for (std::size_t i = 0; i < n; ++i) {
    Member& m = members_[i];
    if (!(eligible & (uint64_t{1} << i)) || m.priority != best_priority) continue;
    m.current_weight += m.weight;
    total += m.weight;
    if (best == n || m.current_weight > members_[best].current_weight) best = i;
  }
  members_[best].current_weight -= total;
  return Pick{best, false};
}

bool PoolRouter::is_breaker_failure(const Outcome& outcome) const {
  switch (outcome.kind) {
    case Outcome::kResponse:
      return breaker_.on.contains(outcome.status);
    case Outcome::kConnectError:
    case Outcome::kTimeout:
      return breaker_.on_connect_error;
    case Outcome::kAbandoned:
      break;
  }
  return false;
}

void PoolRouter::count(Member& m, const Outcome& outcome, SteadyTime now) {
  const int64_t epoch =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()) / kBucketWidth;
  Counts& c = m.buckets[static_cast<std::size_t>(((epoch % kBuckets) + kBuckets) % kBuckets)];
  if (c.epoch != epoch) c = Counts{epoch};
  if (outcome.kind == Outcome::kResponse && outcome.status == 429) {
    ++c.rate_limited;
  } else if (outcome.kind != Outcome::kResponse || outcome.status >= 500) {
    ++c.failures;
  } else {
    ++c.successes;
  }
}

void PoolRouter::open(Member& m, SteadyTime now, const Outcome& cause) {
  const bool hinted =
      breaker_.honor_retry_after && cause.kind == Outcome::kResponse && positive(cause.retry_after);
  m.state = MemberState::kOpen;
  m.open_until = now + (hinted ? *cause.retry_after : breaker_.open_for);
  m.opened_by_rate_limit = cause.kind == Outcome::kResponse && cause.status == 429;
  m.probe_outstanding = false;
  m.failure_next = 0;
  m.failure_count = 0;
}

void PoolRouter::close(Member& m) {
  m.state = MemberState::kClosed;
  m.opened_by_rate_limit = false;
  m.probe_outstanding = false;
  m.failure_next = 0;
  m.failure_count = 0;
}

void PoolRouter::record(const Pick& pick, const Outcome& outcome) {
  if (pick.member >= members_.size()) return;
  const SteadyTime now = clock_.steady_now();
  const bool abandoned = is_abandoned(outcome);
  std::lock_guard lock(mu_);
  Member& m = members_[pick.member];
  if (!abandoned) count(m, outcome, now);

  if (pick.probe) {
    if (m.state != MemberState::kHalfOpen || !m.probe_outstanding) return;  // breaker off or already decided
    m.probe_outstanding = false;
    // No verdict: abandoned, or a connect error the breaker ignores. The next pick probes again.
    if (abandoned || (outcome.kind != Outcome::kResponse && !breaker_.on_connect_error)) return;
    if (is_breaker_failure(outcome)) {
      open(m, now, outcome);
    } else {
      close(m);
    }
    return;
  }

  if (!breaker_.enabled || abandoned || !is_breaker_failure(outcome)) return;
  const bool rate_limit_hint =
      breaker_.honor_retry_after && outcome.status == 429 && positive(outcome.retry_after);
  switch (m.state) {
    case MemberState::kClosed: {
      if (rate_limit_hint) {
        open(m, now, outcome);
        return;
      }
      const std::size_t ring = m.failure_times.size();
      m.failure_times[m.failure_next] = now;
      m.failure_next = (m.failure_next + 1) % ring;
      m.failure_count = std::min(m.failure_count + 1, ring);
      // When full, failure_next points at the oldest of the last `failures` outcomes.
      if (m.failure_count == ring && now - m.failure_times[m.failure_next] <= breaker_.within) {
        open(m, now, outcome);
      }
      return;
    }
    case MemberState::kOpen:
      if (rate_limit_hint && now + *outcome.retry_after > m.open_until) {
        m.open_until = now + *outcome.retry_after;
        m.opened_by_rate_limit = true;
      }
      return;
    case MemberState::kHalfOpen:
      return;  // only the probe decides
  }
}

std::optional<std::chrono::milliseconds> PoolRouter::soonest_available() const {
  const SteadyTime now = clock_.steady_now();
  std::lock_guard lock(mu_);
  std::optional<std::chrono::milliseconds> soonest;
  for (const Member& m : members_) {
    if (m.state != MemberState::kOpen) continue;
    const auto left = std::max(std::chrono::milliseconds(0),
                               std::chrono::ceil<std::chrono::milliseconds>(m.open_until - now));
    if (!soonest || left < *soonest) soonest = left;
  }
  return soonest;
}

std::vector<MemberHealth> PoolRouter::health() const {
  // Name, priority and weight never change after construction, so they are copied without the lock.
  std::vector<MemberHealth> out(members_.size());
  for (std::size_t i = 0; i < members_.size(); ++i) {
    out[i].backend = members_[i].backend;
    out[i].priority = members_[i].priority;
    out[i].weight = members_[i].weight;
  }
  const SteadyTime now = clock_.steady_now();
  const auto system_now = clock_.system_now();
  const int64_t epoch =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()) / kBucketWidth;
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    MemberHealth& h = out[i];
    h.state = m.state;
    if (m.state == MemberState::kOpen && now >= m.open_until) h.state = MemberState::kHalfOpen;
    if (h.state == MemberState::kOpen) {
      h.open_until =
          system_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(m.open_until - now);
    }
    h.opened_by_rate_limit = h.state != MemberState::kClosed && m.opened_by_rate_limit;
    for (const Counts& c : m.buckets) {
      if (c.epoch < 0 || c.epoch <= epoch - kBuckets || c.epoch > epoch) continue;
      h.successes += c.successes;
      h.failures += c.failures;
      h.rate_limited += c.rate_limited;
    }
  }
  return out;
}

bool PoolRouter::should_retry(const Outcome& outcome) const {
  switch (outcome.kind) {
    case Outcome::kResponse:
      return outcome.status != 0 && retry_.on.contains(outcome.status);
    case Outcome::kConnectError:
    case Outcome::kTimeout:
      return true;
    case Outcome::kAbandoned:
      break;
  }
  return false;
}

}  // namespace spillway::routing
