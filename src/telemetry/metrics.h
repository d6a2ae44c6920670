#pragma once
// The metrics registry: counter and histogram families whose series are keyed by label values, recorded
// on the request path without a global lock and merged when /metrics is read (telemetry/prometheus.h
// renders the merged view).
//
// Invariants:
//   - A family has a fixed list of label names; every record passes exactly one value per name.
//   - Series live in kShards shards. A thread always records into the same shard (its thread index modulo
//     kShards), so with up to kShards worker threads a shard's mutex is only ever contended by a scrape.
//   - Cardinality cap: a family admits at most `max_series` distinct dimension label sets (the values of
//     the labels after the first `fixed_labels`, which are few and known, such as status). Once the family
//     is full its admitted set never changes again and is read without a lock. A record of a label set
//     that was not admitted goes to the series whose dimension values are all "other" (kOther), and the
//     family's folded count grows by one; both are exported. The "other" series is not counted in the cap.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace spillway::telemetry {

// The label value excess label sets fold into.
inline constexpr std::string_view kOther = "other";

// Histogram bounds (seconds) for latencies from 0.5 ms to 60 s.
std::vector<double> latency_buckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// One exported sample: family name + suffix ("", "_bucket", "_sum", "_count"), its labels, its value.
struct Sample {
  std::string suffix;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

// A family as merged at one moment. Samples are sorted by label values (histograms: by series, then le).
struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<Sample> samples;
};

struct FamilyOptions {
  std::string name;                 // full name, e.g. "spillway_tokens_total"
  std::string help;                 // one line
  std::vector<std::string> labels;  // label names, in order
  std::size_t fixed_labels = 0;     // leading labels that are never folded nor counted in the cap
  std::size_t max_series = 0;       // 0 = no cap

  bool operator==(const FamilyOptions&) const = default;
};

// The series storage shared by counters and histograms: per series, `width` unsigned counts and a sum.
// Thread-safe.
class SeriesTable {
 public:
  struct Cell {
    std::vector<uint64_t> counts;
    double sum = 0;
  };
  struct Increment {
    std::size_t index;  // into Cell::counts
    uint64_t n;
  };

  SeriesTable(FamilyOptions options, std::size_t width);
  SeriesTable(const SeriesTable&) = delete;
  SeriesTable& operator=(const SeriesTable&) = delete;

  // Adds the increments and `sum` to the series of `values` (or to the "other" series, see the top).
  // REQUIRES: values.size() == options().labels.size(); every index < width.
  void add(std::span<const std::string_view> values, std::span<const Increment> increments, double sum);

  // Every series summed over the shards, sorted by label values.
  std::vector<std::pair<std::vector<std::string>, Cell>> merged() const;
  // Records that went to the "other" series because the family was full.
  uint64_t folded() const;

  const FamilyOptions& options() const { return options_; }
  std::size_t width() const { return width_; }

 private:
  static constexpr std::size_t kShards = 16;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Cell> series;  // by encoded label values
    uint64_t folded = 0;
  };

  // Whether the dimension part `dims` of a new series may have its own series.
  bool admit(const std::string& dims);

  const FamilyOptions options_;
  const std::size_t width_;
  std::array<Shard, kShards> shards_;
  std::mutex admit_mu_;
  std::unordered_set<std::string> admitted_;  // written under admit_mu_ until full_, then read-only
  std::atomic<bool> full_{false};
};

class CounterFamily {
 public:
  // With `columns`, each series holds one counter per column, exported as separate samples whose first
  // label is `column_label` (e.g. kind="prompt"); records then pass one amount per column.
  explicit CounterFamily(FamilyOptions options, std::string column_label = {},
                         std::vector<std::string> columns = {});

  // REQUIRES: values.size() == labels; amounts.size() == max(1, columns.size()).
  void add(std::span<const std::string_view> values, std::span<const uint64_t> amounts);
  void inc(std::span<const std::string_view> values, uint64_t n = 1) { add(values, {&n, 1}); }

  FamilySnapshot snapshot() const;
  uint64_t folded() const { return table_.folded(); }
  const FamilyOptions& options() const { return table_.options(); }
  const std::string& column_label() const { return column_label_; }
  const std::vector<std::string>& columns() const { return columns_; }

 private:
  const std::string column_label_;
  const std::vector<std::string> columns_;
  SeriesTable table_;
};

class HistogramFamily {
 public:
  // `bounds`: ascending upper bounds; the +Inf bucket is implicit.
  HistogramFamily(FamilyOptions options, std::vector<double> bounds);

  // Negative values count as 0; NaN is ignored.
  // REQUIRES: values.size() == labels.
  void observe(std::span<const std::string_view> values, double value);

  FamilySnapshot snapshot() const;
  uint64_t folded() const { return table_.folded(); }
  const FamilyOptions& options() const { return table_.options(); }
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  SeriesTable table_;
};

struct GaugeSample {
  std::vector<std::string> values;  // one per label of the gauge
  double value = 0;
};
// Called on every scrape, on the admin thread. Must be thread-safe with the request path.
using GaugeSource = std::function<std::vector<GaugeSample>()>;

// The families of one process, in registration order. Registration and snapshot() take a mutex; the
// request path only touches the families it holds. Families outlive the registry's use of them
// (shared_ptr), so a policy of an old config snapshot can keep recording after a family was replaced.
class MetricsRegistry {
 public:
  // The family named options.name: the existing one when it was registered with the same definition,
  // else a new one (replacing and no longer exporting any other family of that name).
  std::shared_ptr<CounterFamily> counter(FamilyOptions options, std::string column_label = {},
                                         std::vector<std::string> columns = {});
  std::shared_ptr<HistogramFamily> histogram(FamilyOptions options, std::vector<double> bounds);
  // A gauge read from `source` on every scrape (options.max_series and fixed_labels are ignored).
  // Replaces a gauge of the same name.
  void gauge(FamilyOptions options, GaugeSource source);
  // The same for a counter kept elsewhere (say, by a writer thread): read from `source` on every scrape,
  // exported as a counter. `source` must never return a smaller value for the same labels.
  void sampled_counter(FamilyOptions options, GaugeSource source);

  // Every family, in registration order, then spillway_metric_series_folded_total{metric} with one
  // sample per capped family. Thread-safe.
  std::vector<FamilySnapshot> snapshot() const;

 private:
  struct Gauge {
    FamilyOptions options;
    GaugeSource source;
    MetricType type = MetricType::kGauge;  // kCounter: sampled_counter()
  };
  void add_sampled(FamilyOptions options, GaugeSource source, MetricType type);
  struct Entry {
    std::shared_ptr<CounterFamily> counter;
    std::shared_ptr<HistogramFamily> histogram;
    std::shared_ptr<Gauge> gauge;
    const std::string& name() const;
  };
  Entry* find(const std::string& name);

  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

}  // namespace spillway::telemetry
