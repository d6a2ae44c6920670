#pragma once
// Header enrichment of requests to backends (`policies.headers`): set and remove headers, add W3C
// `baggage` entries, and propagate W3C trace context.
//
// traceparent: when the client sent one valid `traceparent`, the backend gets the same trace id and
// flags with a new parent (span) id, since the gateway is a participant of the trace; `tracestate` is
// forwarded unchanged. When it sent none, an invalid one or several, the backend gets a new trace
// (version 00, random trace id and parent id, flags 01 = sampled) and the client's `tracestate` is dropped.
// baggage: the configured entries are appended to the client's baggage; a client entry with the same key
// as a configured one is dropped, so clients cannot override platform entries.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/telemetry_config.h"
#include "pipeline/policy.h"

namespace spillway::telemetry {

struct TraceParent {
  std::string trace_id;   // 32 lowercase hex, not all zero
  std::string parent_id;  // 16 lowercase hex, not all zero
  uint8_t flags = 0;
};

// Parses a W3C traceparent. Version 00 must be exactly "00-{32 hex}-{16 hex}-{2 hex}"; later versions
// (not ff) may carry more after a further '-'. Uppercase hex, all-zero ids and version ff are invalid.
std::optional<TraceParent> parse_traceparent(std::string_view text);
// "00-{trace_id}-{parent_id}-{flags}".
std::string format_traceparent(const TraceParent& tp);

// A source of random 64-bit values; tests inject a fixed sequence.
using RandomBits = std::function<uint64_t()>;

// The traceparent to send upstream for the client's `client_values` (every traceparent header the client
// sent). `continued` tells whether the client's trace was kept.
std::string upstream_traceparent(const std::vector<std::string_view>& client_values, const RandomBits& random,
                                 bool& continued);

// Percent-encodes a baggage value: every byte outside the W3C baggage-octet set (and '%') becomes %XX.
std::string encode_baggage_value(std::string_view value);

// The client's baggage headers (comma-joined) with `entries` appended; client members whose key equals a
// configured key are dropped. Whitespace around members is removed.
std::string merge_baggage(const std::vector<std::string_view>& client_values,
                          const std::vector<std::pair<std::string, std::string>>& entries);

class HeadersPolicy final : public pipeline::Policy {
 public:
  // `random` defaults to a per-thread generator seeded from std::random_device.
  // REQUIRES: `settings` outlives the policy.
  explicit HeadersPolicy(const config::HeadersSettings& settings, RandomBits random = {});

  // pipeline::Policy
  std::string_view name() const override { return "headers"; }
  std::optional<pipeline::Reply> on_request(pipeline::RequestContext& ctx) override;

 private:
  const config::HeadersSettings& settings_;
  RandomBits random_;
};

}  // namespace spillway::telemetry
