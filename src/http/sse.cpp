#include "http/sse.h"

#include <algorithm>

// Events are reported straight from the caller's bytes when nothing is pending, else from buffer_; either
// way SseEvent::raw is valid only during the callback, which must not call feed() on the same parser.

namespace spillway::http {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace

void SseParser::feed(std::string_view bytes, const Callback& on_event) {
  std::size_t rest;
  if (buffer_.empty()) {
    // Nothing pending: parse the caller's bytes in place and copy only the unfinished tail.
    rest = parse(bytes, on_event);
    buffer_.assign(bytes.substr(rest));
  } else {
    buffer_.append(bytes);
    rest = parse(buffer_, on_event);
    buffer_.erase(0, rest);
  }
  line_start_ -= rest;
  scan_from_ -= rest;
  max_pending_ = std::max(max_pending_, buffer_.size());
}

std::size_t SseParser::parse(std::string_view view, const Callback& on_event) {
  std::size_t event_start = 0;
  for (;;) {
    const std::size_t eol = view.find_first_of("\r\n", scan_from_);
    if (eol == std::string_view::npos) {
      scan_from_ = view.size();
      break;
    }
    std::size_t next = eol + 1;
    if (view[eol] == '\r') {
      // "\r\n" may be split across feeds: decide once the next byte is here.
      if (next == view.size()) {
        scan_from_ = eol;
        break;
      }
      if (view[next] == '\n') ++next;
    }

    std::string_view line = view.substr(line_start_, eol - line_start_);
    std::size_t line_offset = line_start_ - event_start;
    if (at_stream_start_) {
      at_stream_start_ = false;
      if (line.starts_with(kUtf8Bom)) {
        line.remove_prefix(kUtf8Bom.size());
        line_offset += kUtf8Bom.size();
      }
    }

    if (line.empty()) {
      SseEvent event;
      event.raw = view.substr(event_start, next - event_start);
      event.event = event.raw.substr(event_offset_, event_size_);
      if (!data_.empty()) data_.pop_back();  // the '\n' after the last data line
      event.data = std::move(data_);
      on_event(event);
      data_ = std::move(event.data);  // keep the capacity for the next event
      data_.clear();
      event_offset_ = 0;
      event_size_ = 0;
      event_start = next;
    } else {
      field_line(line, line_offset);
    }
    line_start_ = next;
    scan_from_ = next;
  }
  return event_start;
}

void SseParser::field_line(std::string_view line, std::size_t line_offset) {
  if (line.front() == ':') return;  // comment
  const std::size_t colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  std::string_view value;
  std::size_t value_offset = 0;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    value_offset = line_offset + colon + 1;
    if (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
      ++value_offset;
    }
  }
  if (name == "data") {
    data_ += value;
    data_.push_back('\n');
  } else if (name == "event") {
    event_offset_ = value_offset;
    event_size_ = value.size();
  }
  // "id", "retry" and unknown fields carry nothing the gateway uses; they stay in `raw`.
}

}  // namespace spillway::http
