#include "telemetry/metrics_backend_state.h"

#include <array>
#include <map>
#include <string_view>

namespace spillway::telemetry {
namespace {

constexpr std::array<std::string_view, 3> kStates = {"closed", "open", "half_open"};

}  // namespace

std::vector<GaugeSample> backend_state_samples(const std::vector<BackendMemberState>& members) {
  std::map<std::string, std::array<int, kStates.size()>> counts;
  for (const BackendMemberState& m : members) {
    auto& c = counts.try_emplace(m.backend, std::array<int, kStates.size()>{}).first->second;
    for (std::size_t i = 0; i < kStates.size(); ++i) {
      if (m.state == kStates[i]) ++c[i];
    }
  }
  std::vector<GaugeSample> samples;
  for (const auto& [backend, c] : counts) {
    for (std::size_t i = 0; i < kStates.size(); ++i) {
      samples.push_back(GaugeSample{{backend, std::string(kStates[i])}, static_cast<double>(c[i])});
    }
  }
  return samples;
}

void register_backend_state(MetricsRegistry& registry, BackendStatesFn members) {
  registry.gauge(FamilyOptions{.name = "spillway_backend_state",
                               .help = "Pool members of each backend by circuit-breaker state (closed, open, "
                                       "half_open).",
                               .labels = {"backend", "state"}},
                 [members = std::move(members)] {
                   return members ? backend_state_samples(members()) : std::vector<GaugeSample>{};
                 });
}

}  // namespace spillway::telemetry
