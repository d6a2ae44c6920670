#pragma once
// Deadlines of socket reads, kept by a worker's anchor timer (http/server.cpp: anchor_loop) instead of a
// timer per read. Arming one is a few stores and a list insert; the Beast timer that was started and
// cancelled around each read (a heap insert and removal under the reactor's lock, and a cancelled handler
// to run) cost more than the read itself (callgrind).
//
// The anchor sweeps the armed entries every tick(): a read whose deadline has passed is cancelled (its
// operation completes with operation_aborted) and its entry reports expired(). So a deadline fires up to a
// tick late. now() is the time of the last sweep, so a read that may take `step` is armed with after(step):
// never early, and ended between `step` and `step` plus two ticks from when it was armed.
//
// One per worker, current() on its thread. Entries are armed, disarmed and destroyed on that thread, or
// after it stopped (the worker's objects are destroyed after its thread is joined). Reads on other threads
// (no current()) use Beast's timers as before.

#include <boost/asio/ip/tcp.hpp>
#include <chrono>

namespace spillway::http::detail {

class ReadDeadlines {
 public:
  using Clock = std::chrono::steady_clock;

  class Entry {
   public:
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    ~Entry() { disarm(); }

    // No longer armed (the read completed). expired() stays as it was.
    void disarm();
    bool armed() const { return owner_ != nullptr; }
    // The last armed read was cancelled because its deadline passed (it is disarmed then).
    bool expired() const { return expired_; }

   private:
    friend class ReadDeadlines;
    ReadDeadlines* owner_ = nullptr;  // non-null while armed
    boost::asio::ip::tcp::socket* socket_ = nullptr;
    Clock::time_point at_{};
    Entry* prev_ = nullptr;
    Entry* next_ = nullptr;
    bool expired_ = false;
  };

  explicit ReadDeadlines(std::chrono::milliseconds tick = std::chrono::seconds(1));
  ~ReadDeadlines();
  ReadDeadlines(const ReadDeadlines&) = delete;
  ReadDeadlines& operator=(const ReadDeadlines&) = delete;

  // The deadlines of the worker running on this thread, or null.
  static ReadDeadlines* current();
  // Makes *this current() on the calling thread (the worker's, before it runs its loop).
  void make_current();

  // From `at` on (within a tick) the reads pending on `socket` are cancelled. Re-arms an armed entry;
  // clears expired().
  void arm(Entry& e, boost::asio::ip::tcp::socket& socket, Clock::time_point at);
  // The anchor timer, at time `now`: cancels the reads of the entries due by then.
  void sweep(Clock::time_point now);

  Clock::time_point now() const { return now_; }
  // The deadline of a read that may take `step` from now: now() is up to a tick old.
  Clock::time_point after(std::chrono::milliseconds step) const { return now_ + step + tick_; }
  std::chrono::milliseconds tick() const { return tick_; }
  void set_tick(std::chrono::milliseconds tick) { tick_ = tick; }

 private:
  void unlink(Entry& e);

  std::chrono::milliseconds tick_;
  Clock::time_point now_;
  Entry* first_ = nullptr;
};

}  // namespace spillway::http::detail
