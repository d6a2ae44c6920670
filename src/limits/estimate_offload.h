#pragma once
// A thread of its own for the prompt estimates of large requests, so that no request worker's event loop
// waits for one. The tokenizer counts ordinary text at 1-3 ns a byte, but a long run of letters with no
// space in it is one BPE piece whose merges each look up the multi-MiB rank table: about 200 ns a byte, so
// a 4 MiB body of such text held a worker, and every connection on it, for 0.8 s. Bodies of at least
// kMinBytes are counted here instead, one at a time, 10 nice levels below the workers: under load the
// requests that cost the most wait for their own counts, and the others do not.

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace spillway::limits {

class EstimateOffload {
 public:
  // Smaller bodies are counted on the worker: about 13 ms at worst, and for ordinary text so little that
  // the hand-over to this thread and back (tens of microseconds) would cost more than it spares.
  static constexpr std::size_t kMinBytes = 64 * 1024;

  EstimateOffload();   // the thread starts with the first run()
  ~EstimateOffload();  // finish()
  EstimateOffload(const EstimateOffload&) = delete;
  EstimateOffload& operator=(const EstimateOffload&) = delete;

  // Runs `count` on the offload thread, after the counts queued before it; the caller resumes on its own
  // executor with the result (or the exception `count` threw), and its event loop does not run out of
  // work meanwhile.
  boost::asio::awaitable<int64_t> run(std::function<int64_t()> count);

  // Waits for the counts queued so far, then ends the thread; later run()s count inline. For shutdown,
  // after the request workers have stopped. Idempotent.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spillway::limits
