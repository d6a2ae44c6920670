// Prompt token estimation, after OpenAI's cookbook ("How to count tokens with tiktoken":
// num_tokens_from_messages and num_tokens_for_tools):
//   chat: 3 per message + the tokens of every string value of the message (role, content, name, ...)
//         + 1 when it has a name, + 3 for the reply priming (<|start|>assistant<|message|>);
//   tools (and legacy functions): per function 7 (o200k_base) or 10 (cl100k_base) + tokens of
//         "name:description" (description without a final '.'); if it has properties, 3, and per property
//         3 + tokens of "name:type:description", with an enum -3 + per item 3 + its tokens; 12 once at the
//         end.
// Approximations (documented in the README): content parts count their text; an image counts 85 tokens
// with detail "low" and 765 otherwise (a 1024x1024 image at high detail); tool calls count the tokens of
// their name and arguments; nested object properties are counted like top-level ones, recursively; tools
// that are not functions and a json_schema response_format count the tokens of their minified JSON.
// Responses API: `instructions` is a system message, a string `input` a user message, list items count like
// messages (other items, e.g. function calls and their outputs: 3 + their string values but ids and types).
// Completions: the prompt(s), embeddings: the input(s), either text or token arrays; no overhead.

#include "tokenizer/estimate.h"

#include <simdjson.h>

#include <memory>
#include <string>

#include "tokenizer/count_cache.h"
#include "tokenizer/tokenizer.h"

namespace spillway::tokenizer {
namespace {

namespace dom = simdjson::dom;

constexpr int64_t kPerMessage = 3;
constexpr int64_t kPerName = 1;
constexpr int64_t kReplyPriming = 3;
constexpr int64_t kImageLow = 85;
constexpr int64_t kImageHigh = 765;

struct ToolCosts {
  int64_t func_init, prop_init, prop_key, enum_init, enum_item, func_end;
};
constexpr ToolCosts kO200kTools{7, 3, 3, -3, 3, 12};
constexpr ToolCosts kCl100kTools{10, 3, 3, -3, 3, 12};

// The string at `r`, or "" when it is missing or not a string.
std::string_view str(simdjson::simdjson_result<dom::element> r) {
  std::string_view s;
  if (r.get(s) != simdjson::SUCCESS) return {};
  return s;
}

class Estimator {
 public:
  explicit Estimator(Encoding e) : e_(e), costs_(e == Encoding::kCl100kBase ? kCl100kTools : kO200kTools) {}

  int64_t text(std::string_view s) const {
    return CountCache::for_thread().count(e_ == Encoding::kCl100kBase ? 0 : 1, s, [this](std::string_view t) {
      return static_cast<int64_t>(count_tokens(e_, t));
    });
  }

  int64_t string_field(dom::element el) const {
    std::string_view s;
    return el.get(s) == simdjson::SUCCESS ? text(s) : 0;
  }

  // Text or token array, or a list of either (completions' prompt, embeddings' input).
  int64_t text_or_tokens(dom::element el) const {
    std::string_view s;
    if (el.get(s) == simdjson::SUCCESS) return text(s);
    dom::array arr;
    if (el.get(arr) != simdjson::SUCCESS) return 0;
    int64_t n = 0;
    for (dom::element item : arr) {
      if (item.is_number()) {
        ++n;
      } else {
        n += text_or_tokens(item);
      }
    }
    return n;
  }

  int64_t image(dom::element part) const {
    std::string_view detail = str(part["image_url"]["detail"]);
    if (detail.empty()) detail = str(part["detail"]);
    return detail == "low" ? kImageLow : kImageHigh;
  }

  // A message's content: a string or a list of parts.
  int64_t content(dom::element el) const {
    std::string_view s;
    if (el.get(s) == simdjson::SUCCESS) return text(s);
    dom::array parts;
    if (el.get(parts) != simdjson::SUCCESS) return 0;
    int64_t n = 0;
    for (dom::element part : parts) {
      const std::string_view type = str(part["type"]);
      if (type == "image_url" || type == "input_image") {
        n += image(part);
      } else if (part["text"].get(s) == simdjson::SUCCESS) {
        n += text(s);
      } else if (part["refusal"].get(s) == simdjson::SUCCESS) {
        n += text(s);
      } else if (part.get(s) == simdjson::SUCCESS) {
        n += text(s);
      }
    }
    return n;
  }

  int64_t tool_call(dom::element call) const {
    dom::element fn;
    if (call["function"].get(fn) != simdjson::SUCCESS) fn = call;
    return string_field(fn["name"]) + string_field(fn["arguments"]);
  }

  // Keys that carry no model-visible text (Responses API item bookkeeping).
  static bool is_bookkeeping(std::string_view key) {
    return key == "type" || key == "id" || key == "status" || key == "call_id";
  }

  int64_t message(dom::object msg) const {
    int64_t n = kPerMessage;
    for (dom::key_value_pair kv : msg) {
      std::string_view s;
      if (is_bookkeeping(kv.key)) {
        continue;
      } else if (kv.key == "content") {
        n += content(kv.value);
      } else if (kv.key == "tool_calls") {
        dom::array calls;
        if (kv.value.get(calls) == simdjson::SUCCESS) {
          for (dom::element call : calls) n += tool_call(call);
        }
      } else if (kv.key == "function_call") {
        n += tool_call(kv.value);
      } else if (kv.value.get(s) == simdjson::SUCCESS) {
        n += text(s);
        if (kv.key == "name") n += kPerName;
      }
    }
    return n;
  }

  // Every string value below `el`, recursively.
  int64_t all_strings(dom::element el) const {
    std::string_view s;
    if (el.get(s) == simdjson::SUCCESS) return text(s);
    int64_t n = 0;
    dom::array arr;
    dom::object obj;
    if (el.get(arr) == simdjson::SUCCESS) {
      for (dom::element item : arr) n += all_strings(item);
    } else if (el.get(obj) == simdjson::SUCCESS) {
      for (dom::key_value_pair kv : obj) n += all_strings(kv.value);
    }
    return n;
  }

  static std::string_view without_final_period(std::string_view s) {
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    return s;
  }

  int64_t properties(dom::object props) const {
    int64_t n = costs_.prop_init;
    for (dom::key_value_pair kv : props) {
      n += costs_.prop_key;
      std::string type;
      std::string_view t;
      dom::element type_el;
      if (kv.value["type"].get(type_el) == simdjson::SUCCESS) {
        if (type_el.get(t) == simdjson::SUCCESS) {
          type = t;
        } else {
          type = simdjson::minify(type_el);
        }
      }
      const std::string_view desc = str(kv.value["description"]);
      dom::array items;
      if (kv.value["enum"].get(items) == simdjson::SUCCESS) {
        n += costs_.enum_init;
        for (dom::element item : items) {
          n += costs_.enum_item;
          std::string_view s;
          n += item.get(s) == simdjson::SUCCESS ? text(s) : text(simdjson::minify(item));
        }
      }
      std::string line(kv.key);
      line += ':';
      line += type;
      line += ':';
      line += without_final_period(desc);
      n += text(line);
      dom::object nested;
      if (kv.value["properties"].get(nested) == simdjson::SUCCESS && nested.size() > 0)
        n += properties(nested);
      if (kv.value["items"]["properties"].get(nested) == simdjson::SUCCESS && nested.size() > 0) {
        n += properties(nested);
      }
    }
    return n;
  }

  // One function definition: {name, description, parameters}.
  int64_t function(dom::element fn) const {
    const std::string_view name = str(fn["name"]);
    const std::string_view desc = str(fn["description"]);
    std::string line(name);
    line += ':';
    line += without_final_period(desc);
    int64_t n = costs_.func_init + text(line);
    dom::object props;
    if (fn["parameters"]["properties"].get(props) == simdjson::SUCCESS && props.size() > 0)
      n += properties(props);
    return n;
  }

  // `tools` (chat: {type, function: {...}}; responses: {type, name, ...}) or legacy `functions`.
  int64_t tools(dom::array list) const {
    int64_t n = 0;
    bool any_function = false;
    for (dom::element tool : list) {
      std::string_view type;
      const bool has_type = tool["type"].get(type) == simdjson::SUCCESS;
      dom::element fn;
      if (tool["function"].get(fn) == simdjson::SUCCESS) {
        n += function(fn);
        any_function = true;
      } else if (!has_type || type == "function") {
        n += function(tool);
        any_function = true;
      } else {
        n += text(simdjson::minify(tool));
      }
    }
    if (any_function) n += costs_.func_end;
    return n;
  }

  // Tools, legacy functions and structured-output schemas. One pass over the body's keys (a lookup per
  // field walked them four times, on every request); of a key given twice the first counts, as a lookup
  // would find it.
  int64_t definitions(dom::object body) const {
    enum Field { kTools, kFunctions, kResponseFormat, kText, kFields };
    dom::element found[kFields];
    bool seen[kFields] = {};
    for (dom::key_value_pair kv : body) {
      int f = kFields;
      if (kv.key == "tools") {
        f = kTools;
      } else if (kv.key == "functions") {
        f = kFunctions;
      } else if (kv.key == "response_format") {
        f = kResponseFormat;
      } else if (kv.key == "text") {
        f = kText;
      }
      if (f != kFields && !seen[f]) {
        seen[f] = true;
        found[f] = kv.value;
      }
    }
    int64_t n = 0;
    dom::array list;
    for (const int f : {kTools, kFunctions}) {
      if (seen[f] && found[f].get(list) == simdjson::SUCCESS && list.size() > 0) n += tools(list);
    }
    dom::element schema;
    if (seen[kResponseFormat] && found[kResponseFormat]["json_schema"].get(schema) == simdjson::SUCCESS)
      n += text(simdjson::minify(schema));
    if (seen[kText] && found[kText]["format"]["schema"].get(schema) == simdjson::SUCCESS)
      n += text(simdjson::minify(schema));
    return n;
  }

  int64_t chat(dom::object body) const {
    int64_t n = kReplyPriming;
    dom::array messages;
    if (body["messages"].get(messages) == simdjson::SUCCESS) {
      for (dom::element m : messages) {
        dom::object msg;
        if (m.get(msg) == simdjson::SUCCESS) n += message(msg);
      }
    }
    return n + definitions(body);
  }

  int64_t responses(dom::object body) const {
    int64_t n = kReplyPriming;
    std::string_view s;
    if (body["instructions"].get(s) == simdjson::SUCCESS) n += kPerMessage + text("system") + text(s);
    dom::element input;
    if (body["input"].get(input) == simdjson::SUCCESS) {
      dom::array items;
      if (input.get(s) == simdjson::SUCCESS) {
        n += kPerMessage + text("user") + text(s);
      } else if (input.get(items) == simdjson::SUCCESS) {
        for (dom::element item : items) {
          const std::string_view type = str(item["type"]);
          dom::object obj;
          if (item.get(s) == simdjson::SUCCESS) {
            n += kPerMessage + text("user") + text(s);
          } else if (item.get(obj) != simdjson::SUCCESS) {
            continue;
          } else if (type == "message" || (type.empty() && obj["role"].error() == simdjson::SUCCESS)) {
            n += message(obj);
          } else {
            n += kPerMessage;
            for (dom::key_value_pair kv : obj) {
              if (!is_bookkeeping(kv.key)) n += all_strings(kv.value);
            }
          }
        }
      }
    }
    return n + definitions(body);
  }

 private:
  Encoding e_;
  ToolCosts costs_;
};

// A body that cannot be read counts as its length / 4, rounded up.
int64_t fallback(std::size_t body_size) { return static_cast<int64_t>((body_size + 3) / 4); }

}  // namespace

int64_t estimate_prompt_tokens(Encoding e, std::string_view operation, dom::element root,
                               std::size_t body_size) {
  try {
    dom::object obj;
    if (root.get(obj) != simdjson::SUCCESS) return fallback(body_size);
    const Estimator est(e);
    if (operation == "chat.completions") return est.chat(obj);
    if (operation == "responses") return est.responses(obj);
    if (operation == "completions") {
      dom::element prompt;
      int64_t n = 0;
      if (obj["prompt"].get(prompt) == simdjson::SUCCESS) n += est.text_or_tokens(prompt);
      if (obj["suffix"].get(prompt) == simdjson::SUCCESS) n += est.text_or_tokens(prompt);
      return n;
    }
    if (operation == "embeddings") {
      dom::element input;
      return obj["input"].get(input) == simdjson::SUCCESS ? est.text_or_tokens(input) : 0;
    }
    return fallback(body_size);
  } catch (...) {
    return fallback(body_size);
  }
}

int64_t estimate_prompt_tokens(Encoding e, std::string_view operation, std::string_view body) {
  try {
    // A parser per thread keeps its buffers between requests; a large body gets its own, freed after.
    constexpr std::size_t kReuseLimit = 1 << 20;
    thread_local dom::parser shared;
    std::unique_ptr<dom::parser> own;
    dom::parser* parser = &shared;
    if (body.size() > kReuseLimit) {
      own = std::make_unique<dom::parser>();
      parser = own.get();
    }
    dom::element root;
    if (parser->parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return fallback(body.size());
    return estimate_prompt_tokens(e, operation, root, body.size());
  } catch (...) {
    return fallback(body.size());
  }
}

}  // namespace spillway::tokenizer
