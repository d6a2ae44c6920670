#pragma once
// The usage-log policy: on completion of every LLM call, builds one UsageRecord and hands it to the
// SQLite writer and/or the OTLP exporter (both on their own threads). Registered after the policies
// whose decisions it records (authentication, identity, limits).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/policy.h"
#include "telemetry/usage_record.h"

namespace spillway::telemetry {

class UsageWriter;
class OtlpExporter;

struct UsageRecordOptions {
  bool log_prompts = false;
  std::size_t max_prompt_bytes = 4096;
  std::vector<std::string> redact;  // configured secrets, scrubbed from stored prompts and completions
};

// False for calls that reach no model (the gateway's own `models` listing).
bool is_llm_call(const pipeline::RequestContext& ctx);
// Texts of a record that the request's context does not hold (log_prompts: the capped prompt and
// completion); a UsageRecordRef views them.
struct UsageTexts {
  std::string prompt, completion;
};
// The record of a finished request as views of `ctx` and `texts`, which must outlive it. `completion` is
// the response text gathered so far (log_prompts).
UsageRecordRef usage_record_ref(const pipeline::RequestContext& ctx, const UsageRecordOptions& options,
                                std::string_view completion, UsageTexts& texts);
// The same, as a record of its own (copies).
UsageRecord make_usage_record(const pipeline::RequestContext& ctx, const UsageRecordOptions& options,
                              std::string_view completion);
// The prompt part of a request body (chat `messages`, `prompt`, `input`) as minified JSON; "" if none.
std::string prompt_of(std::string_view body, std::string_view operation);
// The text a streamed event adds to the completion (chat delta content, completions text, Responses
// output_text delta); "" for anything else.
std::string completion_delta(std::string_view event_data);

class UsageLogPolicy final : public pipeline::Policy {
 public:
  // Either sink may be null (not configured).
  UsageLogPolicy(UsageRecordOptions options, std::shared_ptr<UsageWriter> writer,
                 std::shared_ptr<OtlpExporter> exporter);

  // pipeline::Policy
  std::string_view name() const override { return "usage_log"; }
  void on_chunk(pipeline::RequestContext& ctx, const http::SseEvent& event) override;
  void on_complete(pipeline::RequestContext& ctx) override;

 private:
  const UsageRecordOptions options_;
  const std::shared_ptr<UsageWriter> writer_;
  const std::shared_ptr<OtlpExporter> exporter_;
};

}  // namespace spillway::telemetry
