#include "auth/token_cache.h"

#include "auth/token_request.h"

namespace spillway::auth {

TokenCache::TokenCache(const util::Clock& clock, std::chrono::steady_clock::duration stale_after)
    : clock_(clock), stale_after_(stale_after) {}

TokenCache::Decision TokenCache::acquire() {
  const auto now = clock_.steady_now();
  Decision decision;
  std::lock_guard lock(mutex_);
  if (fetching_ && now - fetch_started_ > stale_after_) fetching_ = false;
  if (valid_locked(now)) {
    decision.value = *value_;
    decision.action = Action::kUse;
    if (now >= refresh_at_ && !fetching_ && now >= next_try_at_) {
      fetching_ = true;
      fetch_started_ = now;
      decision.action = Action::kUseAndRefresh;
    }
    return decision;
  }
  if (fetching_) {
    decision.action = Action::kWait;
  } else if (now < next_try_at_) {
    decision.action = Action::kUnavailable;
  } else {
    fetching_ = true;
    fetch_started_ = now;
    decision.action = Action::kFetch;
  }
  return decision;
}

TokenCache::Peek TokenCache::peek() const {
  const auto now = clock_.steady_now();
  Peek peek;
  std::lock_guard lock(mutex_);
  if (valid_locked(now)) peek.value = *value_;
  peek.fetching = fetching_ && now - fetch_started_ <= stale_after_;
  return peek;
}

void TokenCache::fetch_succeeded(std::string value, std::chrono::steady_clock::duration lifetime) {
  std::lock_guard lock(mutex_);
  const auto started = fetch_started_;
  value_ = std::move(value);
  expires_at_ = started + lifetime;
  refresh_at_ = expires_at_ - refresh_margin(lifetime);
  fetching_ = false;
  failures_ = 0;
  next_try_at_ = {};
}

void TokenCache::fetch_failed() {
  const auto now = clock_.steady_now();
  std::lock_guard lock(mutex_);
  fetching_ = false;
  ++failures_;
  next_try_at_ = now + retry_backoff(failures_);
}

int TokenCache::consecutive_failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

std::optional<std::chrono::steady_clock::time_point> TokenCache::refresh_at() const {
  std::lock_guard lock(mutex_);
  if (!value_) return std::nullopt;
  return refresh_at_;
}

std::optional<std::chrono::steady_clock::time_point> TokenCache::expires_at() const {
  std::lock_guard lock(mutex_);
  if (!value_) return std::nullopt;
  return expires_at_;
}

}  // namespace spillway::auth
