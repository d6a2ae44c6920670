#include "telemetry/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "telemetry/prometheus.h"

namespace spillway::telemetry {
namespace {

// Series keys are the label values, each as a 4-byte length and its bytes, so any byte may appear in a
// value.
char* put_encoded(char* out, std::string_view value) {
  const auto n = static_cast<uint32_t>(value.size());
  std::memcpy(out, &n, 4);
  if (n != 0) std::memcpy(out + 4, value.data(), n);
  return out + 4 + n;
}

// key = the encoded values; *fixed_end = where the value at index `fixed` starts (the key's size when there
// is none). One resize, then plain copies: the key is built twice or more per request.
void encode_key(std::string& key, std::span<const std::string_view> values, std::size_t fixed,
                std::size_t* fixed_end) {
  std::size_t total = 0;
  for (const std::string_view v : values) total += 4 + v.size();
  key.resize(total);
  char* const begin = key.data();
  char* out = begin;
  *fixed_end = total;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i == fixed) *fixed_end = static_cast<std::size_t>(out - begin);
    out = put_encoded(out, values[i]);
  }
}

std::vector<std::string> decode(std::string_view key) {
  std::vector<std::string> values;
  while (key.size() >= 4) {
    uint32_t n = 0;
    std::memcpy(&n, key.data(), 4);
    values.emplace_back(key.substr(4, n));
    key.remove_prefix(4 + std::min<std::size_t>(n, key.size() - 4));
  }
  return values;
}

// A small number per thread, assigned on first use; threads keep their shard for life.
std::size_t thread_index() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed);
  return index;
}

std::vector<std::pair<std::string, std::string>> label_pairs(const std::vector<std::string>& names,
                                                             const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> labels;
  labels.reserve(names.size() + 1);
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i)
    labels.emplace_back(names[i], values[i]);
  return labels;
}

}  // namespace

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

SeriesTable::SeriesTable(FamilyOptions options, std::size_t width)
    : options_(std::move(options)), width_(width) {}

bool SeriesTable::admit(const std::string& dims) {
  if (full_.load(std::memory_order_acquire)) return admitted_.count(dims) > 0;
  std::lock_guard lock(admit_mu_);
  if (admitted_.count(dims) > 0) return true;
  if (admitted_.size() >= options_.max_series) {
    full_.store(true, std::memory_order_release);
    return false;
  }
  admitted_.insert(dims);
  if (admitted_.size() >= options_.max_series) full_.store(true, std::memory_order_release);
  return true;
}

void SeriesTable::add(std::span<const std::string_view> values, std::span<const Increment> increments,
                      double sum) {
  // Reused per thread: building the key allocates only while it grows.
  thread_local std::string key;
  std::size_t fixed_end = 0;
  encode_key(key, values, options_.fixed_labels, &fixed_end);

  Shard& shard = shards_[thread_index() % kShards];
  std::lock_guard lock(shard.mu);
  auto it = shard.series.find(key);
  if (it == shard.series.end()) {
    if (options_.max_series == 0 || admit(key.substr(fixed_end))) {
      it = shard.series.emplace(key, Cell{std::vector<uint64_t>(width_), 0}).first;
    } else {
      ++shard.folded;
      const std::size_t dims = values.size() - std::min(options_.fixed_labels, values.size());
      key.resize(fixed_end + dims * (4 + kOther.size()));
      char* out = key.data() + fixed_end;
      for (std::size_t i = 0; i < dims; ++i) out = put_encoded(out, kOther);
      it = shard.series.find(key);
      if (it == shard.series.end())
        it = shard.series.emplace(key, Cell{std::vector<uint64_t>(width_), 0}).first;
    }
  }
  Cell& cell = it->second;
  for (const Increment& inc : increments) cell.counts[inc.index] += inc.n;
  cell.sum += sum;
}

std::vector<std::pair<std::vector<std::string>, SeriesTable::Cell>> SeriesTable::merged() const {
  std::unordered_map<std::string, Cell> all;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [key, cell] : shard.series) {
      Cell& m = all[key];
      if (m.counts.empty()) m.counts.resize(width_);
      for (std::size_t i = 0; i < width_; ++i) m.counts[i] += cell.counts[i];
      m.sum += cell.sum;
    }
  }
  std::vector<std::pair<std::vector<std::string>, Cell>> out;
  out.reserve(all.size());
  for (auto& [key, cell] : all) out.emplace_back(decode(key), std::move(cell));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

uint64_t SeriesTable::folded() const {
  uint64_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    total += shard.folded;
  }
  return total;
}

CounterFamily::CounterFamily(FamilyOptions options, std::string column_label,
                             std::vector<std::string> columns)
    : column_label_(std::move(column_label)),
      columns_(std::move(columns)),
      table_(std::move(options), std::max<std::size_t>(1, columns_.size())) {}

void CounterFamily::add(std::span<const std::string_view> values, std::span<const uint64_t> amounts) {
  std::array<SeriesTable::Increment, 8> small;
  std::vector<SeriesTable::Increment> large;
  std::span<SeriesTable::Increment> incs;
  if (amounts.size() <= small.size()) {
    incs = std::span(small.data(), amounts.size());
  } else {
    large.resize(amounts.size());
    incs = large;
  }
  for (std::size_t i = 0; i < amounts.size(); ++i) incs[i] = {i, amounts[i]};
  table_.add(values, incs, 0);
}

FamilySnapshot CounterFamily::snapshot() const {
  FamilySnapshot snap{options().name, options().help, MetricType::kCounter, {}};
  for (const auto& [values, cell] : table_.merged()) {
    if (columns_.empty()) {
      snap.samples.push_back(
          Sample{"", label_pairs(options().labels, values), static_cast<double>(cell.counts[0])});
      continue;
    }
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      Sample s{"", {{column_label_, columns_[c]}}, static_cast<double>(cell.counts[c])};
      for (auto& label : label_pairs(options().labels, values)) s.labels.push_back(std::move(label));
      snap.samples.push_back(std::move(s));
    }
  }
  return snap;
}

HistogramFamily::HistogramFamily(FamilyOptions options, std::vector<double> bounds)
    : bounds_(std::move(bounds)), table_(std::move(options), bounds_.size() + 2) {}

// Cell layout: counts[0 .. n-1] the buckets (not cumulative), counts[n] the +Inf bucket, counts[n+1] the
// count.
void HistogramFamily::observe(std::span<const std::string_view> values, double value) {
  if (std::isnan(value)) return;
  if (value < 0) value = 0;
  const auto bucket =
      static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  const SeriesTable::Increment incs[2] = {{bucket, 1}, {bounds_.size() + 1, 1}};
  table_.add(values, incs, value);
}

FamilySnapshot HistogramFamily::snapshot() const {
  FamilySnapshot snap{options().name, options().help, MetricType::kHistogram, {}};
  for (const auto& [values, cell] : table_.merged()) {
    const auto labels = label_pairs(options().labels, values);
    uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= bounds_.size(); ++b) {
      cumulative += cell.counts[b];
      Sample s{"_bucket", labels, static_cast<double>(cumulative)};
      s.labels.emplace_back("le", b < bounds_.size() ? format_number(bounds_[b]) : "+Inf");
      snap.samples.push_back(std::move(s));
    }
    snap.samples.push_back(Sample{"_sum", labels, cell.sum});
    snap.samples.push_back(Sample{"_count", labels, static_cast<double>(cell.counts[bounds_.size() + 1])});
  }
  return snap;
}

const std::string& MetricsRegistry::Entry::name() const {
  if (counter) return counter->options().name;
  if (histogram) return histogram->options().name;
  return gauge->options.name;
}

MetricsRegistry::Entry* MetricsRegistry::find(const std::string& name) {
  for (Entry& e : entries_) {
    if (e.name() == name) return &e;
  }
  return nullptr;
}

std::shared_ptr<CounterFamily> MetricsRegistry::counter(FamilyOptions options, std::string column_label,
                                                        std::vector<std::string> columns) {
  std::lock_guard lock(mu_);
  Entry* e = find(options.name);
  if (e && e->counter && e->counter->options() == options && e->counter->column_label() == column_label &&
      e->counter->columns() == columns) {
    return e->counter;
  }
  auto family =
      std::make_shared<CounterFamily>(std::move(options), std::move(column_label), std::move(columns));
  if (e) {
    *e = Entry{family, nullptr, nullptr};
  } else {
    entries_.push_back(Entry{family, nullptr, nullptr});
  }
  return family;
}

std::shared_ptr<HistogramFamily> MetricsRegistry::histogram(FamilyOptions options,
                                                            std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  Entry* e = find(options.name);
  if (e && e->histogram && e->histogram->options() == options && e->histogram->bounds() == bounds) {
    return e->histogram;
  }
  auto family = std::make_shared<HistogramFamily>(std::move(options), std::move(bounds));
  if (e) {
    *e = Entry{nullptr, family, nullptr};
  } else {
    entries_.push_back(Entry{nullptr, family, nullptr});
  }
  return family;
}

void MetricsRegistry::gauge(FamilyOptions options, GaugeSource source) {
  add_sampled(std::move(options), std::move(source), MetricType::kGauge);
}

void MetricsRegistry::sampled_counter(FamilyOptions options, GaugeSource source) {
  add_sampled(std::move(options), std::move(source), MetricType::kCounter);
}

void MetricsRegistry::add_sampled(FamilyOptions options, GaugeSource source, MetricType type) {
  std::lock_guard lock(mu_);
  auto gauge = std::make_shared<Gauge>(Gauge{std::move(options), std::move(source), type});
  if (Entry* e = find(gauge->options.name)) {
    *e = Entry{nullptr, nullptr, gauge};
  } else {
    entries_.push_back(Entry{nullptr, nullptr, gauge});
  }
}

std::vector<FamilySnapshot> MetricsRegistry::snapshot() const {
  std::vector<Entry> entries;
  {
    std::lock_guard lock(mu_);
    entries = entries_;
  }
  std::vector<FamilySnapshot> out;
  FamilySnapshot folded{"spillway_metric_series_folded_total",
                        "Records counted under the label value \"other\" because the metric had reached its "
                        "series cap (policies.token_metrics.max_series).",
                        MetricType::kCounter,
                        {}};
  for (const Entry& e : entries) {
    if (e.counter) {
      out.push_back(e.counter->snapshot());
      if (e.counter->options().max_series > 0) {
        folded.samples.push_back(
            Sample{"", {{"metric", e.counter->options().name}}, static_cast<double>(e.counter->folded())});
      }
    } else if (e.histogram) {
      out.push_back(e.histogram->snapshot());
      if (e.histogram->options().max_series > 0) {
        folded.samples.push_back(Sample{
            "", {{"metric", e.histogram->options().name}}, static_cast<double>(e.histogram->folded())});
      }
    } else {
      FamilySnapshot snap{e.gauge->options.name, e.gauge->options.help, e.gauge->type, {}};
      std::vector<GaugeSample> samples = e.gauge->source ? e.gauge->source() : std::vector<GaugeSample>{};
      for (const GaugeSample& g : samples) {
        snap.samples.push_back(Sample{"", label_pairs(e.gauge->options.labels, g.values), g.value});
      }
      std::sort(snap.samples.begin(), snap.samples.end(),
                [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
      out.push_back(std::move(snap));
    }
  }
  std::sort(folded.samples.begin(), folded.samples.end(),
            [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
  out.push_back(std::move(folded));
  return out;
}

}  // namespace spillway::telemetry
