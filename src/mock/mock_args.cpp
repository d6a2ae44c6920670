#include "mock/mock_args.h"

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "mock/mock_llm.h"

namespace spillway::mock {
namespace {

std::optional<double> parse_non_negative(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  return value;
}

// "HOST:PORT" or "[V6]:PORT"; HOST is an IP literal or "localhost".
bool parse_listen(std::string_view text, MockOptions& options) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const auto port = parse_count(text.substr(colon + 1));
  if (host.empty() || !port || *port > 65535) return false;
  if (host != "localhost") {
    boost::system::error_code ec;
    boost::asio::ip::make_address(std::string(host), ec);
    if (ec) return false;
  }
  options.host = std::string(host);
  options.port = static_cast<uint16_t>(*port);
  return true;
}

// A header value must stay on one line: visible ASCII and spaces only.
bool is_header_safe(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace

std::optional<std::chrono::microseconds> parse_duration(std::string_view text) {
  double scale = 1000;  // a bare number is milliseconds
  if (text.ends_with("us")) {
    scale = 1, text.remove_suffix(2);
  } else if (text.ends_with("ms")) {
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    scale = 1e6, text.remove_suffix(1);
  }
  const auto value = parse_non_negative(text);
  // Bounded so the conversion below cannot overflow; a day is far beyond any useful simulated latency.
  if (!value || *value * scale > 86400e6) return std::nullopt;
  return std::chrono::microseconds(std::llround(*value * scale));
}

std::optional<int64_t> parse_count(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || text.front() == '-' || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

std::optional<MockOptions> parse_mock_args(const std::vector<std::string>& args, std::string& error) {
  MockOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::string_view value;
    bool has_value = false;
    if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
      value = flag.substr(eq + 1), flag = flag.substr(0, eq), has_value = true;
    } else if (i + 1 < args.size()) {
      value = args[i + 1], has_value = true, ++i;
    }
    const auto invalid = [&](std::string_view expected) {
      error = std::string(flag) + ": invalid value '" + std::string(value) + "' (expected " +
              std::string(expected) + ")";
      return std::nullopt;
    };
    const bool known = flag == "--listen" || flag == "--latency" || flag == "--tokens-per-second" ||
                       flag == "--tpm-capacity" || flag == "--tpm-window" || flag == "--fail-rate" ||
                       flag == "--name" || flag == "--api-key" || flag == "--seed" || flag == "--threads" ||
                       flag == "--ready-file";
    if (!known) {
      error = "unknown argument '" + std::string(flag) + "'";
      return std::nullopt;
    }
    if (!has_value) {
      error = std::string(flag) + ": missing value";
      return std::nullopt;
    }
    if (flag == "--listen") {
      if (!parse_listen(value, options)) return invalid("HOST:PORT with an IP address or localhost");
    } else if (flag == "--latency") {
      const auto latency = parse_duration(value);
      if (!latency) return invalid("a duration such as 20ms, 1s or 500us");
      options.latency = std::chrono::ceil<std::chrono::milliseconds>(*latency);
    } else if (flag == "--tokens-per-second") {
      const auto tps = parse_non_negative(value);
      if (!tps) return invalid("a non-negative number");
      options.tokens_per_second = *tps;
    } else if (flag == "--tpm-capacity") {
      const auto capacity = parse_count(value);
      if (!capacity) return invalid("a non-negative integer");
      options.tpm_capacity = *capacity;
    } else if (flag == "--tpm-window") {
      const auto window = parse_duration(value);
      if (!window || window->count() <= 0) return invalid("a duration such as 60s or 5s");
      options.tpm_window = std::chrono::ceil<std::chrono::milliseconds>(*window);
    } else if (flag == "--fail-rate") {
      const auto rate = parse_non_negative(value);
      if (!rate || *rate > 1) return invalid("a probability between 0 and 1");
      options.fail_rate = *rate;
    } else if (flag == "--name") {
      if (!is_header_safe(value)) return invalid("printable ASCII");
      options.name = std::string(value);
    } else if (flag == "--api-key") {
      if (!is_header_safe(value)) return invalid("printable ASCII");
      options.api_key = std::string(value);
    } else if (flag == "--seed") {
      uint64_t seed = 0;
      const char* end = value.data() + value.size();
      auto [ptr, ec] = std::from_chars(value.data(), end, seed);
      if (value.empty() || ec != std::errc{} || ptr != end) return invalid("an unsigned integer");
      options.seed = seed;
    } else if (flag == "--threads") {
      const auto threads = parse_count(value);
      if (!threads || *threads < 1 || *threads > 256) return invalid("an integer from 1 to 256");
      options.threads = static_cast<int>(*threads);
    } else {  // --ready-file
      if (value.empty()) return invalid("a path");
      options.ready_file = std::string(value);
    }
  }
  return options;
}

}  // namespace spillway::mock
