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
  std::string buffer_;
  std::size_t scan_from_ = 0;
  std::size_t max_pending_ = 0;
};

}  // namespace spillway::http
