#pragma once
// Server-Sent Events framing (WHATWG HTML "event stream" format), no I/O. Feed bytes as they arrive;
// complete events are reported with their exact raw bytes so they can be forwarded unchanged.

#include <functional>
#include <string>
#include <string_view>

namespace spillway::http {

struct SseEvent {
  std::string_view raw;    // the event's bytes including its terminating blank line, exactly as received
  std::string_view event;  // value of the last "event:" field, "" if none
  std::string data;        // "data:" lines joined with '\n' (one leading space after the colon stripped)
  bool is_done() const { return data == "[DONE]"; }
};

// Lines end with "\r\n", "\n" or "\r" (a "\r" at the end of a fed chunk waits for the next byte). An event
// ends at an empty line. Comment lines (":...") are part of `raw` but not of `data`. Events with no data
// lines are still reported (data empty). REQUIRES: a single thread.
class SseParser {
 public:
  using Callback = std::function<void(const SseEvent&)>;
  void feed(std::string_view bytes, const Callback& on_event);
  // Bytes received but not yet part of a complete event (e.g. to flush at end of stream).
  std::string_view pending() const { return buffer_; }
  std::size_t max_pending() const { return max_pending_; }

 private:
  // Parses the complete lines of `view` (the current event's bytes, from its first byte) from line_start_
  // on, reporting each complete event. Returns where the unreported bytes begin.
  std::size_t parse(std::string_view view, const Callback& on_event);
  void field_line(std::string_view line, std::size_t line_offset);

  // Invariants between feeds: buffer_ holds exactly the bytes of the current unfinished event (pending());
  // the lines before line_start_ are already folded into data_/event_*; [line_start_, scan_from_) holds no
  // line terminator (a "\r" that waits for its next byte sits at scan_from_).
  std::string buffer_;
  std::size_t scan_from_ = 0;   // where to resume looking for a line terminator
  std::size_t line_start_ = 0;  // first byte of the current incomplete line
  std::size_t max_pending_ = 0;
  std::string data_;              // "data" lines of the current event, each followed by '\n'
  std::size_t event_offset_ = 0;  // the "event" value, relative to the event's first byte
  std::size_t event_size_ = 0;
  bool at_stream_start_ = true;  // the next complete line is the stream's first (may start with a BOM)
};

}  // namespace spillway::http
