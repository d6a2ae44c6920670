#include "mock/mock_state.h"

namespace spillway::mock {

void RequestLog::add(std::string entry_json) {
  std::lock_guard lock(mu_);
  if (entries_.size() == capacity_) entries_.pop_front();
  entries_.push_back(std::move(entry_json));
}

std::string RequestLog::to_json() const {
  std::lock_guard lock(mu_);
  std::string out = "[";
  for (const auto& entry : entries_) {
    if (out.size() > 1) out.push_back(',');
    out += entry;
  }
  out.push_back(']');
  return out;
}

void RequestLog::clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

void TokenWindow::expire(Clock::time_point now) {
  while (!entries_.empty() && entries_.front().first + window_ <= now) {
    total_ -= entries_.front().second;
    entries_.pop_front();
  }
}

TokenWindow::Decision TokenWindow::try_admit(int64_t tokens, Clock::time_point now) {
  std::lock_guard lock(mu_);
  expire(now);
  Decision decision;
  if (total_ < capacity_) {
    if (!entries_.empty() && now - entries_.back().first < kMergeWithin) {
      entries_.back() = {now, entries_.back().second + tokens};
    } else {
      entries_.emplace_back(now, tokens);
    }
    total_ += tokens;
    decision.admitted = true;
    decision.remaining = std::max<int64_t>(0, capacity_ - total_);
    return decision;
  }
  // The window drops below capacity when enough of the oldest entries have expired.
  int64_t left = total_;
  for (const auto& [at, entry_tokens] : entries_) {
    left -= entry_tokens;
    if (left < capacity_) {
      decision.retry_after = std::chrono::ceil<std::chrono::milliseconds>(at + window_ - now);
      break;
    }
  }
  decision.retry_after = std::max(decision.retry_after, std::chrono::milliseconds(1));
  return decision;
}

void TokenWindow::clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
  total_ = 0;
}

bool FailDice::roll() {
  if (probability_ <= 0) return false;
  std::lock_guard lock(mu_);
  // 53 random bits as a double in [0, 1); std::uniform_real_distribution differs between libraries.
  const double draw = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return draw < probability_;
}

}  // namespace spillway::mock
