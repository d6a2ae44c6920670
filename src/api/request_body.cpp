#include "api/request_body.h"

#include <algorithm>
#include <vector>

#include "api/json_doc.h"
#include "util/ascii.h"
#include "util/json.h"

namespace spillway::api {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string_view required_field(Operation op) {
  switch (op) {
    case Operation::kChatCompletions:
      return "messages";
    case Operation::kCompletions:
      return "prompt";
    case Operation::kEmbeddings:
    case Operation::kResponses:
      return "input";
    case Operation::kModels:
      return "";
  }
  return "";
}

ApiError wrong_type(std::string_view param, std::string_view expected) {
  std::string message = "Invalid type for '";
  message += param;
  message += "': expected ";
  message += expected;
  message += ".";
  return errors::invalid_body(message, param);
}

// The top-level members inspect_body looks at; a null value counts as absent, as OpenAI treats it.
struct Inspected {
  std::optional<element> model, stream, stream_options, required;
  std::optional<element> max_tokens[3];  // in precedence order, see kMaxTokenKeys
};

// Appends the tool names declared by one element of "tools" or "functions" (see RequestFields::tools).
void add_tool_name(const element& tool, std::vector<std::string>& out) {
  simdjson::dom::object object;
  if (tool.get_object().get(object) != simdjson::SUCCESS) return;
  std::string_view name;
  simdjson::dom::object function;
  if (object.at_key("function").get_object().get(function) == simdjson::SUCCESS) {
    if (function.at_key("name").get_string().get(name) != simdjson::SUCCESS) return;
  } else if (object.at_key("name").get_string().get(name) != simdjson::SUCCESS &&
             (object.at_key("type").get_string().get(name) != simdjson::SUCCESS || name == "function")) {
    return;
  }
  if (name.empty() || std::find(out.begin(), out.end(), name) != out.end()) return;
  out.emplace_back(name);
}

void add_tool_names(const element& list, std::vector<std::string>& out) {
  simdjson::dom::array array;
  if (list.get_array().get(array) != simdjson::SUCCESS) return;
  for (const element tool : array) add_tool_name(tool, out);
}

constexpr std::string_view kMaxTokenKeys[3] = {"max_tokens", "max_completion_tokens", "max_output_tokens"};

}  // namespace

std::variant<RequestFields, ApiError> inspect_body(std::string_view body, const Route& route) {
  RequestFields fields;
  if (route.op == Operation::kModels) return fields;

  std::shared_ptr<const ParsedJson> document = ParsedJson::retain(body);
  const ParsedJson& doc = *document;
  if (doc.error() != simdjson::SUCCESS) return errors::invalid_json(simdjson::error_message(doc.error()));
  simdjson::dom::object root;
  if (doc.root().get_object().get(root) != simdjson::SUCCESS) {
    return errors::invalid_json("the top-level value must be a JSON object");
  }

  // One pass over the members. A duplicate of an inspected key is rejected: the gateway and the backend
  // could otherwise read different values (e.g. route on the first "model", bill the last one).
  const std::string_view required_name = required_field(route.op);
  Inspected in;
  for (const simdjson::dom::key_value_pair member : root) {
    std::optional<element>* slot = nullptr;
    if (member.key == "tools" || member.key == "functions") {
      add_tool_names(member.value, fields.tools);
      continue;
    }
    if (member.key == "model") {
      slot = &in.model;
    } else if (member.key == "stream") {
      slot = &in.stream;
    } else if (member.key == "stream_options") {
      slot = &in.stream_options;
    } else if (member.key == required_name) {
      slot = &in.required;
    } else {
      for (std::size_t i = 0; i < 3; ++i) {
        if (member.key == kMaxTokenKeys[i]) slot = &in.max_tokens[i];
      }
    }
    if (slot == nullptr) continue;
    if (slot->has_value()) {
      return errors::invalid_body("Duplicate key '" + std::string(member.key) + "' in the request body",
                                  member.key);
    }
    *slot = member.value;
  }
  auto present = [](const std::optional<element>& e) { return e.has_value() && !e->is_null(); };

  if (present(in.model)) {
    std::string_view model;
    if (in.model->get_string().get(model) != simdjson::SUCCESS) return wrong_type("model", "a string");
    fields.model = model;
  }
  if (route.model_in_body && fields.model.empty()) return errors::missing_field("model");

  if (!present(in.required)) return errors::missing_field(required_name);
  const element_type required_type = in.required->type();
  if (route.op == Operation::kChatCompletions) {
    if (required_type != element_type::ARRAY) return wrong_type(required_name, "an array");
  } else if (required_type != element_type::ARRAY && required_type != element_type::STRING) {
    return wrong_type(required_name, "a string or an array");
  }

  if (present(in.stream) && in.stream->get_bool().get(fields.stream) != simdjson::SUCCESS) {
    return wrong_type("stream", "a boolean");
  }

  if (present(in.stream_options)) {
    simdjson::dom::object options;
    if (in.stream_options->get_object().get(options) != simdjson::SUCCESS) {
      return wrong_type("stream_options", "an object");
    }
    element include_usage;
    if (options.at_key("include_usage").get(include_usage) == simdjson::SUCCESS && !include_usage.is_null() &&
        include_usage.get_bool().get(fields.client_wants_usage) != simdjson::SUCCESS) {
      return wrong_type("stream_options.include_usage", "a boolean");
    }
  }

  for (std::size_t i = 0; i < 3; ++i) {
    if (!present(in.max_tokens[i])) continue;
    int64_t n;
    if (in.max_tokens[i]->type() != element_type::INT64 ||
        in.max_tokens[i]->get_int64().get(n) != simdjson::SUCCESS || n < 0) {
      return wrong_type(kMaxTokenKeys[i], "a non-negative integer");
    }
    fields.max_tokens = n;
    break;
  }
  fields.document = std::move(document);
  return fields;
}

// apply_body_edits uses a minimal scanner over a body simdjson has already accepted: it finds the byte spans
// of top-level members (and of members of one nested object) without building anything, so edits splice new
// bytes into the original and every other byte stays as the client sent it. On anything unexpected it gives
// up and the body is forwarded unchanged.

namespace {

constexpr std::size_t kNpos = std::string_view::npos;

struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;  // one past the last byte
};

struct Member {
  Span key;  // including the quotes
  Span value;
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_ws(std::string_view s, std::size_t i) {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}

// s[i] == '"'; returns the index after the closing quote, or kNpos.
std::size_t skip_string(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return kNpos;
}

// Returns the index after the value starting at s[i], or kNpos. Iterative, so deep nesting is safe.
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (i >= s.size()) return kNpos;
  const char first = s[i];
  if (first == '"') return skip_string(s, i);
  if (first == '{' || first == '[') {
    std::size_t depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        if (i == kNpos) return kNpos;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return kNpos;
  }
  std::size_t j = i;  // number, true, false, null
  while (j < s.size() && !is_ws(s[j]) && s[j] != ',' && s[j] != '}' && s[j] != ']') ++j;
  return j == i ? kNpos : j;
}

// Compares a JSON string token (with quotes) against an ASCII `name`, honouring escapes such as
// "mod\u0065l", which simdjson (and the backend) read as "model".
bool key_equals(std::string_view token, std::string_view name) {
  const std::string_view raw = token.substr(1, token.size() - 2);
  if (raw.find('\\') == kNpos) return raw == name;
  std::size_t n = 0;
  for (std::size_t i = 0; i < raw.size(); ++i, ++n) {
    char c = raw[i];
    if (c == '\\') {
      if (++i >= raw.size()) return false;
      switch (raw[i]) {
        case 'u': {
          if (i + 4 >= raw.size()) return false;
          int cp = 0;
          for (int k = 1; k <= 4; ++k) {
            const int d = util::hex_digit(raw[i + k]);
            if (d < 0) return false;
            cp = cp * 16 + d;
          }
          i += 4;
          if (cp >= 0x80) return false;  // `name` is ASCII, so a non-ASCII character never matches
          c = static_cast<char>(cp);
          break;
        }
        case 'b':
          c = '\b';
          break;
        case 'f':
          c = '\f';
          break;
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        default:
          c = raw[i];  // '"', '\\', '/'
      }
    }
    if (n >= name.size() || name[n] != c) return false;
  }
  return n == name.size();
}

struct ObjectScan {
  std::size_t open = 0;   // index of '{'
  std::size_t close = 0;  // index of '}'
  std::vector<Member> members;
};

// Scans the object whose '{' is at s[open]. nullopt when it is not a well-formed object.
std::optional<ObjectScan> scan_object(std::string_view s, std::size_t open) {
  if (open >= s.size() || s[open] != '{') return std::nullopt;
  ObjectScan scan;
  scan.open = open;
  std::size_t i = skip_ws(s, open + 1);
  if (i < s.size() && s[i] == '}') {
    scan.close = i;
    return scan;
  }
  for (;;) {
    if (i >= s.size() || s[i] != '"') return std::nullopt;
    Member m;
    m.key.begin = i;
    m.key.end = skip_string(s, i);
    if (m.key.end == kNpos) return std::nullopt;
    i = skip_ws(s, m.key.end);
    if (i >= s.size() || s[i] != ':') return std::nullopt;
    m.value.begin = skip_ws(s, i + 1);
    m.value.end = skip_value(s, m.value.begin);
    if (m.value.end == kNpos) return std::nullopt;
    scan.members.push_back(m);
    i = skip_ws(s, m.value.end);
    if (i >= s.size()) return std::nullopt;
    if (s[i] == '}') {
      scan.close = i;
      return scan;
    }
    if (s[i] != ',') return std::nullopt;
    i = skip_ws(s, i + 1);
  }
}

const Member* find_member(std::string_view s, const ObjectScan& scan, std::string_view name) {
  for (const Member& m : scan.members) {
    if (key_equals(s.substr(m.key.begin, m.key.end - m.key.begin), name)) return &m;
  }
  return nullptr;
}

struct Splice {
  std::size_t pos;
  std::size_t erase;
  std::string text;
};

std::string_view span_text(std::string_view s, Span span) {
  return s.substr(span.begin, span.end - span.begin);
}

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace

std::string apply_body_edits(std::string_view body, const BodyEdits& edits) {
  if (!edits.set_model && !edits.force_include_usage) return std::string(body);
  const std::size_t start = body.starts_with(kUtf8Bom) ? kUtf8Bom.size() : 0;
  const auto top = scan_object(body, skip_ws(body, start));
  if (!top) return std::string(body);

  std::vector<Splice> splices;
  std::string front;  // new members inserted right after the top-level '{'
  auto add_front = [&front](std::string_view member) {
    if (!front.empty()) front.push_back(',');
    front += member;
  };

  if (edits.set_model) {
    std::string value;
    util::append_json_string(value, *edits.set_model);
    if (const Member* model = find_member(body, *top, "model")) {
      if (span_text(body, model->value) != value) {
        splices.push_back({model->value.begin, model->value.end - model->value.begin, std::move(value)});
      }
    } else {
      add_front("\"model\":" + value);
    }
  }

  if (edits.force_include_usage) {
    constexpr std::string_view kOptions = R"({"include_usage":true})";
    const Member* options = find_member(body, *top, "stream_options");
    if (options == nullptr) {
      add_front(std::string(R"("stream_options":)") + std::string(kOptions));
    } else if (body[options->value.begin] != '{') {  // null (other types were rejected by inspect_body)
      splices.push_back(
          {options->value.begin, options->value.end - options->value.begin, std::string(kOptions)});
    } else {
      const auto inner = scan_object(body, options->value.begin);
      if (!inner) return std::string(body);
      if (const Member* include = find_member(body, *inner, "include_usage")) {
        if (span_text(body, include->value) != "true") {
          splices.push_back({include->value.begin, include->value.end - include->value.begin, "true"});
        }
      } else {
        std::string text = R"("include_usage":true)";
        if (!inner->members.empty()) text.push_back(',');
        splices.push_back({inner->open + 1, 0, std::move(text)});
      }
    }
  }

  if (!front.empty()) {
    if (!top->members.empty()) front.push_back(',');
    splices.push_back({top->open + 1, 0, std::move(front)});
  }
  if (splices.empty()) return std::string(body);

  std::sort(splices.begin(), splices.end(), [](const Splice& a, const Splice& b) { return a.pos < b.pos; });
  std::size_t extra = 0;
  for (const Splice& s : splices) extra += s.text.size();
  std::string out;
  out.reserve(body.size() + extra);
  std::size_t copied = 0;
  for (const Splice& s : splices) {
    out.append(body.substr(copied, s.pos - copied));
    out += s.text;
    copied = s.pos + s.erase;
  }
  out.append(body.substr(copied));
  return out;
}

}  // namespace spillway::api
