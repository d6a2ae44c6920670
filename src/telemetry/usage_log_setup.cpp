#include "telemetry/usage_log_setup.h"

#include <unistd.h>

#include "telemetry/metrics.h"
#include "telemetry/otlp_exporter.h"
#include "telemetry/usage_log_policy.h"
#include "telemetry/usage_writer.h"
#include "util/log.h"

namespace spillway::telemetry {
namespace {

std::vector<std::string> configured_secrets(const config::Config& config) {
  std::vector<std::string> out;
  for (const auto& [name, s] : config.subscriptions) {
    if (!s.key.empty()) out.push_back(s.key);
  }
  for (const auto& [name, b] : config.backends) {
    if (!b.auth.secret.empty()) out.push_back(b.auth.secret);
  }
  for (const auto& [name, value] : config.telemetry.otlp_headers) {
    if (value.size() >= 8) out.push_back(value);
  }
  return out;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

void export_writer_stats(MetricsRegistry& metrics, const std::shared_ptr<UsageWriter>& writer) {
  // Read on each scrape; the registry outlives the writer, so it holds it weakly (no samples once gone).
  const std::weak_ptr<UsageWriter> weak = writer;
  metrics.sampled_counter(
      FamilyOptions{.name = "spillway_usage_log_records_total",
                    .help =
                        "Usage records by what became of them: written to the usage log; dropped because "
                        "its queue was full (usage_log.queue_capacity) or the writer had stopped; failed: "
                        "lost to write errors after retries.",
                    .labels = {"outcome"}},
      [weak] {
        std::vector<GaugeSample> samples;
        if (const auto w = weak.lock()) {
          const UsageWriterStats s = w->stats();
          samples.push_back({{"written"}, static_cast<double>(s.written)});
          samples.push_back({{"dropped"}, static_cast<double>(s.dropped)});
          samples.push_back({{"failed"}, static_cast<double>(s.failed)});
        }
        return samples;
      });
  metrics.gauge(FamilyOptions{.name = "spillway_usage_log_waiting",
                              .help = "Usage records queued for the usage log and not written yet.",
                              .labels = {}},
                [weak] {
                  std::vector<GaugeSample> samples;
                  if (const auto w = weak.lock())
                    samples.push_back({{}, static_cast<double>(w->stats().waiting)});
                  return samples;
                });
}

}  // namespace

UsageLogRuntime make_usage_log(const config::Config& config, const util::Clock& clock,
                               MetricsRegistry* metrics) {
  UsageLogRuntime out;
  const config::UsageLogSettings& log = config.usage_log;
  const config::TelemetrySettings& tel = config.telemetry;
  if (!log.enabled && !tel.otlp_enabled) return out;

  std::shared_ptr<UsageWriter> writer;
  if (log.enabled) {
    writer = std::make_shared<UsageWriter>(log, clock, UsageWriterOptions{.background = log.idle_writer});
    util::log_info("usage log: writing to " + log.sqlite_path +
                   (log.log_prompts ? " (with prompts and completions)" : ""));
    if (metrics != nullptr) export_writer_stats(*metrics, writer);
  }
  std::shared_ptr<OtlpExporter> exporter;
  if (tel.otlp_enabled) {
    OtlpResource resource;
#ifdef SPILLWAY_VERSION
    resource.service_version = SPILLWAY_VERSION;
#endif
    resource.host_name = host_name();
    RetryPolicy retry;
    retry.max_attempts = tel.otlp_max_attempts;
    exporter = std::make_shared<OtlpExporter>(
        tel, [tel] { return make_upstream_poster(tel); }, clock, retry, std::move(resource));
    util::log_info("otlp: exporting usage records and token metrics to " + tel.otlp_url + " every " +
                   std::to_string(tel.otlp_interval.count()) + " ms");
  }

  UsageRecordOptions options;
  options.log_prompts = log.enabled && log.log_prompts;
  options.max_prompt_bytes = log.max_prompt_bytes;
  if (options.log_prompts) options.redact = configured_secrets(config);
  out.policy = std::make_unique<UsageLogPolicy>(std::move(options), writer, exporter);
  // The exporter gets otlp_timeout to send what is queued at shutdown; a collector that is down must not
  // hold up the exit.
  out.stop = [writer, exporter, budget = tel.otlp_timeout] {
    if (writer) writer->stop();
    if (exporter) exporter->stop(budget);
  };
  return out;
}

}  // namespace spillway::telemetry
