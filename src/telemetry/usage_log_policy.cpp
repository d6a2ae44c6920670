#include "telemetry/usage_log_policy.h"

#include <simdjson.h>

#include <unordered_map>

#include "telemetry/otlp_exporter.h"
#include "telemetry/usage_writer.h"

namespace spillway::telemetry {
namespace {

double millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Streamed completion text per request, only with log_prompts. A request's chunks and its completion run
// on its worker thread, so a thread-local map needs no lock; on_complete erases the entry.
thread_local std::unordered_map<const pipeline::RequestContext*, std::string> t_completions;

std::string capped(std::string text, const UsageRecordOptions& o) {
  redact(text, o.redact);
  if (text.size() > o.max_prompt_bytes) text.resize(utf8_prefix(text, o.max_prompt_bytes).size());
  return text;
}

}  // namespace

bool is_llm_call(const pipeline::RequestContext& ctx) {
  return ctx.route.api != nullptr && ctx.route.op != api::Operation::kModels;
}

std::string prompt_of(std::string_view body, std::string_view operation) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size(), true).get(root) != simdjson::SUCCESS) return {};
  const char* field = operation == "chat.completions" ? "messages"
                      : operation == "completions"    ? "prompt"
                                                      : "input";
  simdjson::dom::element value;
  if (root[field].get(value) != simdjson::SUCCESS) return {};
  return simdjson::minify(value);
}

std::string completion_delta(std::string_view data) {
  if (data.empty() || data.front() != '{') return {};
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(data.data(), data.size(), true).get(root) != simdjson::SUCCESS) return {};
  std::string_view text;
  simdjson::dom::element choice;
  if (root["choices"].at(0).get(choice) == simdjson::SUCCESS) {
    if (choice["delta"]["content"].get(text) == simdjson::SUCCESS) return std::string(text);
    if (choice["text"].get(text) == simdjson::SUCCESS) return std::string(text);
    return {};
  }
  std::string_view type;
  if (root["type"].get(type) == simdjson::SUCCESS && type == "response.output_text.delta" &&
      root["delta"].get(text) == simdjson::SUCCESS) {
    return std::string(text);
  }
  return {};
}

UsageRecordRef usage_record_ref(const pipeline::RequestContext& ctx, const UsageRecordOptions& options,
                                std::string_view completion, UsageTexts& texts) {
  UsageRecordRef r;
  r.time_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.started_at.time_since_epoch()).count();
  r.request_id = ctx.request_id;
  if (ctx.route.api) {
    r.api = ctx.route.api->name;
    r.operation = api::operation_name(ctx.route.op);
  }
  r.pool = ctx.pool;
  r.deployment = ctx.deployment;
  r.model = !ctx.model.empty() ? ctx.model : !ctx.fields.model.empty() ? ctx.fields.model : ctx.deployment;
  r.backend = ctx.backend;
  r.attempts = ctx.attempts;
  if (ctx.subscription) {
    r.subscription = ctx.subscription->name;
    r.product = ctx.subscription->product;
    r.tag_map = &ctx.subscription->tags;
  }
  r.user_hash = ctx.user_hash;
  r.tools = ctx.tools;
  r.status = ctx.status;
  r.error = ctx.error_code;
  r.stream = ctx.stream;
  r.prompt_tokens = ctx.usage.prompt_tokens;
  r.completion_tokens = ctx.usage.completion_tokens;
  r.total_tokens = ctx.usage.total_tokens;
  r.cached_tokens = ctx.usage.cached_tokens;
  r.reasoning_tokens = ctx.usage.reasoning_tokens;
  r.tokens_estimated = !ctx.usage_present && (ctx.usage.total_tokens > 0 || ctx.usage.prompt_tokens > 0);
  r.usage_source = ctx.usage_present ? "backend" : r.tokens_estimated ? "estimate" : "none";
  if (ctx.first_byte) r.ttft_ms = millis(*ctx.first_byte - ctx.started);
  r.duration_ms = millis(ctx.finished - ctx.started);
  r.client_disconnected = ctx.client_disconnected;
  if (options.log_prompts) {
    if (ctx.request) {
      texts.prompt = capped(prompt_of(ctx.request->body, r.operation), options);
      r.prompt = texts.prompt;
    }
    if (!completion.empty()) {
      texts.completion = capped(std::string(completion), options);
      r.completion = texts.completion;
    }
  }
  return r;
}

UsageRecord make_usage_record(const pipeline::RequestContext& ctx, const UsageRecordOptions& options,
                              std::string_view completion) {
  UsageTexts texts;
  return to_record(usage_record_ref(ctx, options, completion, texts));
}

UsageLogPolicy::UsageLogPolicy(UsageRecordOptions options, std::shared_ptr<UsageWriter> writer,
                               std::shared_ptr<OtlpExporter> exporter)
    : options_(std::move(options)), writer_(std::move(writer)), exporter_(std::move(exporter)) {}

void UsageLogPolicy::on_chunk(pipeline::RequestContext& ctx, const http::SseEvent& event) {
  if (!options_.log_prompts) return;
  std::string& text = t_completions[&ctx];
  // Redaction may shorten the text later; keep a little more than the cap so the cut is still exact.
  if (text.size() > options_.max_prompt_bytes + 1024) return;
  text += completion_delta(event.data);
}

void UsageLogPolicy::on_complete(pipeline::RequestContext& ctx) {
  std::string completion;
  if (options_.log_prompts) {
    auto it = t_completions.find(&ctx);
    if (it != t_completions.end()) {
      completion = std::move(it->second);
      t_completions.erase(it);
    }
  }
  if (!is_llm_call(ctx)) return;
  UsageTexts texts;
  const UsageRecordRef record = usage_record_ref(ctx, options_, completion, texts);
  if (writer_) writer_->submit(record);  // packs the texts from the context: no copy first
  if (exporter_) exporter_->submit(to_record(record));
}

}  // namespace spillway::telemetry
