#include "telemetry/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "telemetry/metrics_backend_state.h"

namespace spillway::telemetry {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string_view> sv(std::initializer_list<std::string_view> v) { return v; }

const Sample* find_sample(const FamilySnapshot& f, const std::string& suffix, const Labels& labels) {
  for (const Sample& s : f.samples) {
    if (s.suffix == suffix && s.labels == labels) return &s;
  }
  return nullptr;
}

double value_of(const FamilySnapshot& f, const Labels& labels, const std::string& suffix = "") {
  const Sample* s = find_sample(f, suffix, labels);
  EXPECT_NE(s, nullptr) << f.name << suffix;
  return s ? s->value : -1;
}

TEST(CounterFamily, ColumnsBecomeSamplesWithTheColumnLabelFirst) {
  CounterFamily tokens(FamilyOptions{.name = "t_total", .help = "h", .labels = {"api", "user"}}, "kind",
                       {"prompt", "completion"});
  const uint64_t a[] = {10, 5};
  const uint64_t b[] = {1, 2};
  tokens.add(sv({"openai", "u1"}), a);
  tokens.add(sv({"openai", "u1"}), b);
  tokens.add(sv({"azure", "u2"}), b);
  FamilySnapshot snap = tokens.snapshot();
  ASSERT_EQ(snap.samples.size(), 4u);
  // Sorted by label values: azure before openai.
  EXPECT_EQ(snap.samples[0].labels, (Labels{{"kind", "prompt"}, {"api", "azure"}, {"user", "u2"}}));
  EXPECT_EQ(value_of(snap, {{"kind", "prompt"}, {"api", "openai"}, {"user", "u1"}}), 11);
  EXPECT_EQ(value_of(snap, {{"kind", "completion"}, {"api", "openai"}, {"user", "u1"}}), 7);
  EXPECT_EQ(value_of(snap, {{"kind", "completion"}, {"api", "azure"}, {"user", "u2"}}), 2);
}

TEST(CounterFamily, ValuesWithAnyBytesStayDistinct) {
  CounterFamily c(FamilyOptions{.name = "c_total", .help = "h", .labels = {"a", "b"}});
  // A naive separator-joined key would make these two the same series.
  c.inc(sv({std::string_view("x\0y", 3), "z"}));
  c.inc(sv({"x", std::string_view("y\0z", 3)}));
  c.inc(sv({"", ""}));
  EXPECT_EQ(c.snapshot().samples.size(), 3u);
}

TEST(SeriesCap, ExcessLabelSetsFoldIntoOtherAndAreCounted) {
  CounterFamily c(FamilyOptions{
      .name = "r_total", .help = "h", .labels = {"status", "user"}, .fixed_labels = 1, .max_series = 2});
  c.inc(sv({"200", "a"}));
  c.inc(sv({"500", "a"}));  // same dimension set as the first: not a new one
  c.inc(sv({"200", "b"}));
  c.inc(sv({"200", "c"}), 3);  // third dimension set: folded
  c.inc(sv({"429", "d"}));     // folded, status kept
  c.inc(sv({"200", "a"}));     // admitted ones keep counting
  FamilySnapshot snap = c.snapshot();
  EXPECT_EQ(value_of(snap, {{"status", "200"}, {"user", "a"}}), 2);
  EXPECT_EQ(value_of(snap, {{"status", "500"}, {"user", "a"}}), 1);
  EXPECT_EQ(value_of(snap, {{"status", "200"}, {"user", "b"}}), 1);
  EXPECT_EQ(value_of(snap, {{"status", "200"}, {"user", "other"}}), 3);
  EXPECT_EQ(value_of(snap, {{"status", "429"}, {"user", "other"}}), 1);
  EXPECT_EQ(find_sample(snap, "", {{"status", "200"}, {"user", "c"}}), nullptr);
  EXPECT_EQ(snap.samples.size(), 5u);
  EXPECT_EQ(c.folded(), 2u);
}

TEST(SeriesCap, AppliesAcrossThreads) {
  CounterFamily c(FamilyOptions{.name = "x_total", .help = "h", .labels = {"user"}, .max_series = 10});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      for (int i = 0; i < 100; ++i) {
        const std::string user = "u" + std::to_string((i + t * 7) % 25);
        c.inc(sv({user}));
      }
    });
  }
  for (auto& th : threads) th.join();
  FamilySnapshot snap = c.snapshot();
  double total = 0;
  std::size_t named = 0;
  for (const Sample& s : snap.samples) {
    total += s.value;
    if (s.labels[0].second != "other") ++named;
  }
  EXPECT_EQ(total, 400);
  EXPECT_EQ(named, 10u);
  EXPECT_EQ(snap.samples.size(), 11u);
  EXPECT_EQ(value_of(snap, {{"user", "other"}}), static_cast<double>(c.folded()));
}

TEST(Merge, CountsFromManyThreadsAddUp) {
  CounterFamily c(FamilyOptions{.name = "m_total", .help = "h", .labels = {"k"}});
  HistogramFamily h(FamilyOptions{.name = "m_seconds", .help = "h", .labels = {"k"}}, {0.1, 1});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        c.inc(sv({i % 2 ? "odd" : "even"}));
        h.observe(sv({"x"}), 0.5);
      }
    });
  }
  // Scrapes while recording must not disturb the totals.
  for (int i = 0; i < 20; ++i) (void)c.snapshot();
  for (auto& th : threads) th.join();
  FamilySnapshot snap = c.snapshot();
  EXPECT_EQ(value_of(snap, {{"k", "even"}}), kThreads * kPerThread / 2);
  EXPECT_EQ(value_of(snap, {{"k", "odd"}}), kThreads * kPerThread / 2);
  FamilySnapshot hs = h.snapshot();
  EXPECT_EQ(value_of(hs, {{"k", "x"}}, "_count"), kThreads * kPerThread);
  EXPECT_DOUBLE_EQ(value_of(hs, {{"k", "x"}}, "_sum"), 0.5 * kThreads * kPerThread);
}

TEST(Histogram, BucketsAreCumulativeAndInclusive) {
  HistogramFamily h(FamilyOptions{.name = "d_seconds", .help = "h", .labels = {"api"}}, {0.01, 0.1, 1});
  for (double v : {0.0, 0.01, 0.05, 0.1, 0.5, 2.0, 100.0, -3.0}) h.observe(sv({"a"}), v);
  h.observe(sv({"a"}), std::nan(""));  // ignored
  FamilySnapshot snap = h.snapshot();
  ASSERT_EQ(snap.type, MetricType::kHistogram);
  // 0, 0.01 and -3 (as 0) are <= 0.01; 0.05 and 0.1 add to le=0.1; 0.5 to le=1; 2 and 100 only to +Inf.
  EXPECT_EQ(value_of(snap, {{"api", "a"}, {"le", "0.01"}}, "_bucket"), 3);
  EXPECT_EQ(value_of(snap, {{"api", "a"}, {"le", "0.1"}}, "_bucket"), 5);
  EXPECT_EQ(value_of(snap, {{"api", "a"}, {"le", "1"}}, "_bucket"), 6);
  EXPECT_EQ(value_of(snap, {{"api", "a"}, {"le", "+Inf"}}, "_bucket"), 8);
  EXPECT_EQ(value_of(snap, {{"api", "a"}}, "_count"), 8);
  EXPECT_DOUBLE_EQ(value_of(snap, {{"api", "a"}}, "_sum"), 0.01 + 0.05 + 0.1 + 0.5 + 2.0 + 100.0);
  ASSERT_EQ(snap.samples.size(), 6u);
  EXPECT_EQ(snap.samples[0].suffix, "_bucket");
  EXPECT_EQ(snap.samples[4].suffix, "_sum");
  EXPECT_EQ(snap.samples[5].suffix, "_count");
}

TEST(Histogram, LatencyBucketsAscendFromHalfAMillisecondToAMinute) {
  const std::vector<double> b = latency_buckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.0005);
  EXPECT_DOUBLE_EQ(b.back(), 60);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

TEST(Registry, SameDefinitionReturnsTheSameFamily) {
  MetricsRegistry r;
  FamilyOptions o{.name = "a_total", .help = "h", .labels = {"x"}};
  auto f1 = r.counter(o);
  auto f2 = r.counter(o);
  EXPECT_EQ(f1, f2);
  o.labels = {"y"};
  auto f3 = r.counter(o);
  EXPECT_NE(f1, f3);
  f1->inc(sv({"1"}));  // the replaced family still works but is no longer exported
  f3->inc(sv({"2"}));
  auto snap = r.snapshot();
  ASSERT_EQ(snap.size(), 2u);  // a_total and the folded counter
  EXPECT_EQ(snap[0].name, "a_total");
  EXPECT_EQ(snap[0].samples.size(), 1u);
  EXPECT_EQ(snap[0].samples[0].labels, (Labels{{"y", "2"}}));
}

TEST(Registry, SnapshotKeepsOrderAndReportsFoldsPerCappedFamily) {
  MetricsRegistry r;
  auto c = r.counter(FamilyOptions{.name = "b_total", .help = "h", .labels = {"u"}, .max_series = 1});
  auto h = r.histogram(FamilyOptions{.name = "b_seconds", .help = "h", .labels = {}}, {1});
  r.gauge(FamilyOptions{.name = "b_state", .help = "h", .labels = {"k"}}, [] {
    return std::vector<GaugeSample>{{{"z"}, 2}, {{"a"}, 1}};
  });
  c->inc(sv({"x"}));
  c->inc(sv({"y"}));
  h->observe({}, 0.5);
  auto snap = r.snapshot();
  ASSERT_EQ(snap.size(), 4u);
  EXPECT_EQ(snap[0].name, "b_total");
  EXPECT_EQ(snap[1].name, "b_seconds");
  EXPECT_EQ(snap[2].name, "b_state");
  EXPECT_EQ(snap[2].type, MetricType::kGauge);
  ASSERT_EQ(snap[2].samples.size(), 2u);
  EXPECT_EQ(snap[2].samples[0].labels, (Labels{{"k", "a"}}));
  EXPECT_EQ(snap[3].name, "spillway_metric_series_folded_total");
  ASSERT_EQ(snap[3].samples.size(), 1u);  // only b_total has a cap
  EXPECT_EQ(snap[3].samples[0].labels, (Labels{{"metric", "b_total"}}));
  EXPECT_EQ(snap[3].samples[0].value, 1);
}

TEST(Registry, ASampledCounterIsReadOnEveryScrapeAndExportedAsACounter) {
  MetricsRegistry r;
  uint64_t written = 3;
  r.sampled_counter(FamilyOptions{.name = "w_total", .help = "h", .labels = {"outcome"}}, [&written] {
    return std::vector<GaugeSample>{{{"written"}, static_cast<double>(written)}, {{"dropped"}, 0}};
  });
  auto snap = r.snapshot();
  ASSERT_EQ(snap.size(), 2u);  // and the folded family
  EXPECT_EQ(snap[0].name, "w_total");
  EXPECT_EQ(snap[0].type, MetricType::kCounter);
  ASSERT_EQ(snap[0].samples.size(), 2u);
  EXPECT_EQ(snap[0].samples[0].labels, (Labels{{"outcome", "dropped"}}));
  EXPECT_EQ(snap[0].samples[1].value, 3);
  written = 7;
  EXPECT_EQ(r.snapshot()[0].samples[1].value, 7);
  // Registered again under the same name: replaced, not doubled.
  r.sampled_counter(FamilyOptions{.name = "w_total", .help = "h", .labels = {"outcome"}},
                    [] { return std::vector<GaugeSample>{}; });
  snap = r.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_TRUE(snap[0].samples.empty());
}

TEST(BackendState, CountsMembershipsPerState) {
  auto samples =
      backend_state_samples({{"ptu", "open"}, {"payg", "closed"}, {"ptu", "closed"}, {"payg", "closed"}});
  ASSERT_EQ(samples.size(), 6u);
  auto value = [&](const std::string& backend, const std::string& state) {
    for (const auto& s : samples) {
      if (s.values == std::vector<std::string>{backend, state}) return s.value;
    }
    return -1.0;
  };
  EXPECT_EQ(value("ptu", "open"), 1);
  EXPECT_EQ(value("ptu", "closed"), 1);
  EXPECT_EQ(value("ptu", "half_open"), 0);
  EXPECT_EQ(value("payg", "closed"), 2);
  EXPECT_EQ(value("payg", "open"), 0);

  MetricsRegistry r;
  register_backend_state(r, [] { return std::vector<BackendMemberState>{{"b", "half_open"}}; });
  auto snap = r.snapshot();
  ASSERT_EQ(snap[0].name, "spillway_backend_state");
  EXPECT_EQ(snap[0].samples.size(), 3u);
}

}  // namespace
}  // namespace spillway::telemetry
