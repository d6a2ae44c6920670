#include "telemetry/usage_record.h"

#include "util/json.h"

namespace spillway::telemetry {

std::string tags_json(const std::vector<std::pair<std::string, std::string>>& tags) {
  std::string out = "{";
  for (const auto& [k, v] : tags) {
    if (out.size() > 1) out.push_back(',');
    util::append_json_string(out, k);
    out.push_back(':');
    util::append_json_string(out, v);
  }
  out.push_back('}');
  return out;
}

std::string tools_json(const std::vector<std::string>& tools) {
  std::string out = "[";
  for (const auto& t : tools) {
    if (out.size() > 1) out.push_back(',');
    util::append_json_string(out, t);
  }
  out.push_back(']');
  return out;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the sequence that would be cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

void redact(std::string& text, const std::vector<std::string>& secrets) {
  static constexpr std::string_view kMark = "[redacted]";
  for (const auto& s : secrets) {
    if (s.empty()) continue;
    for (std::size_t pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + kMark.size())) {
      text.replace(pos, s.size(), kMark);
    }
  }
}

}  // namespace spillway::telemetry
