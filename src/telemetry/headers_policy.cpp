#include "telemetry/headers_policy.h"

#include <random>

#include "util/ascii.h"

namespace spillway::telemetry {
namespace {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (util::lower_hex_digit(c) < 0) return false;
  }
  return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

std::string random_hex(const RandomBits& random, std::size_t chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  do {
    out.clear();
    while (out.size() < chars) {
      uint64_t v = random();
      for (int i = 0; i < 16 && out.size() < chars; ++i, v >>= 4) out.push_back(kHex[v & 0xF]);
    }
  } while (all_zero(out));
  return out;
}

// W3C baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E ('%' is encoded too).
bool is_baggage_octet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2B && c != '%') || (c >= 0x2D && c <= 0x3A) ||
         (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

std::vector<std::string_view> header_values(const http::HeaderList& headers, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [n, v] : headers) {
    if (n == name) values.push_back(v);
  }
  return values;
}

uint64_t thread_random() {
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  return rng();
}

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view text) {
  text = util::trim_ows(text);
  if (text.size() < 55 || text[2] != '-' || text[35] != '-' || text[52] != '-') return std::nullopt;
  const std::string_view version = text.substr(0, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? text.size() != 55 : (text.size() > 55 && text[55] != '-')) return std::nullopt;
  const std::string_view trace_id = text.substr(3, 32);
  const std::string_view parent_id = text.substr(36, 16);
  const std::string_view flags = text.substr(53, 2);
  if (!is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(flags)) return std::nullopt;
  if (all_zero(trace_id) || all_zero(parent_id)) return std::nullopt;
  return TraceParent{
      std::string(trace_id), std::string(parent_id),
      static_cast<uint8_t>(util::lower_hex_digit(flags[0]) * 16 + util::lower_hex_digit(flags[1]))};
}

std::string format_traceparent(const TraceParent& tp) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "00-";
  out += tp.trace_id;
  out += '-';
  out += tp.parent_id;
  out += '-';
  out += kHex[tp.flags >> 4];
  out += kHex[tp.flags & 0xF];
  return out;
}

std::string upstream_traceparent(const std::vector<std::string_view>& client_values, const RandomBits& random,
                                 bool& continued) {
  std::optional<TraceParent> tp;
  if (client_values.size() == 1) tp = parse_traceparent(client_values.front());
  continued = tp.has_value();
  if (tp) {
    // Version 00 defines only the sampled bit; other bits of a later version are not ours to forward.
    if (client_values.front().substr(0, 2) != "00") tp->flags &= 0x01;
  } else {
    tp = TraceParent{random_hex(random, 32), {}, 0x01};
  }
  tp->parent_id = random_hex(random, 16);
  return format_traceparent(*tp);
}

std::string encode_baggage_value(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_baggage_octet(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string merge_baggage(const std::vector<std::string_view>& client_values,
                          const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  auto append = [&out](std::string_view member) {
    if (!out.empty()) out += ',';
    out += member;
  };
  for (std::string_view header : client_values) {
    while (!header.empty()) {
      const std::string_view member = util::take_list_item(header);
      if (member.empty()) continue;
      const std::string_view key = util::trim_ows(member.substr(0, member.find_first_of("=;")));
      bool overridden = false;
      for (const auto& [k, v] : entries) {
        if (k == key) overridden = true;
      }
      if (!overridden) append(member);
    }
  }
  for (const auto& [key, value] : entries) {
    std::string member = key;
    member += '=';
    member += encode_baggage_value(value);
    append(member);
  }
  return out;
}

HeadersPolicy::HeadersPolicy(const config::HeadersSettings& settings, RandomBits random)
    : settings_(settings), random_(random ? std::move(random) : RandomBits(thread_random)) {}

std::optional<pipeline::Reply> HeadersPolicy::on_request(pipeline::RequestContext& ctx) {
  static const http::HeaderList kNoHeaders;
  const http::HeaderList& client = ctx.request != nullptr ? ctx.request->headers : kNoHeaders;
  for (const std::string& name : settings_.remove) ctx.upstream_remove_headers.push_back(name);
  for (const auto& header : settings_.set) ctx.upstream_set_headers.push_back(header);
  if (!settings_.baggage.empty()) {
    ctx.upstream_set_headers.emplace_back("baggage",
                                          merge_baggage(header_values(client, "baggage"), settings_.baggage));
  }
  if (settings_.traceparent) {
    bool continued = false;
    std::string tp = upstream_traceparent(header_values(client, "traceparent"), random_, continued);
    ctx.upstream_set_headers.emplace_back("traceparent", std::move(tp));
    if (!continued) ctx.upstream_remove_headers.push_back("tracestate");
  }
  return std::nullopt;
}

}  // namespace spillway::telemetry
