#pragma once
// spillway_backend_state{backend, state}: the circuit-breaker state of the backends, read on each scrape.

#include <functional>
#include <string>
#include <vector>

#include "telemetry/metrics.h"

namespace spillway::telemetry {

struct BackendMemberState {
  std::string backend;
  std::string state;  // "closed", "open" or "half_open" (routing::member_state_name)
};

// Every pool member's state; called on the admin thread on each scrape. Must be thread-safe.
using BackendStatesFn = std::function<std::vector<BackendMemberState>()>;

// Registers the gauge: for each backend that is a member of some pool, one sample per state (closed, open,
// half_open) whose value is the number of its pool memberships in that state. With one pool per backend
// that is 1 for the current state and 0 for the others.
void register_backend_state(MetricsRegistry& registry, BackendStatesFn members);

// The samples for `members` (what the gauge exports), for tests.
std::vector<GaugeSample> backend_state_samples(const std::vector<BackendMemberState>& members);

}  // namespace spillway::telemetry
