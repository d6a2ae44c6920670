#include "http/deadlines.h"

namespace spillway::http::detail {
namespace {

thread_local ReadDeadlines* t_current = nullptr;

}  // namespace

void ReadDeadlines::Entry::disarm() {
  if (owner_ != nullptr) owner_->unlink(*this);
}

ReadDeadlines::ReadDeadlines(std::chrono::milliseconds tick) : tick_(tick), now_(Clock::now()) {}

ReadDeadlines::~ReadDeadlines() {
  while (first_ != nullptr) unlink(*first_);
  if (t_current == this) t_current = nullptr;
}

ReadDeadlines* ReadDeadlines::current() { return t_current; }

void ReadDeadlines::make_current() { t_current = this; }

void ReadDeadlines::arm(Entry& e, boost::asio::ip::tcp::socket& socket, Clock::time_point at) {
  if (e.owner_ != this) {
    e.disarm();
    e.owner_ = this;
    e.prev_ = nullptr;
    e.next_ = first_;
    if (first_ != nullptr) first_->prev_ = &e;
    first_ = &e;
  }
  e.socket_ = &socket;
  e.at_ = at;
  e.expired_ = false;
}

void ReadDeadlines::sweep(Clock::time_point now) {
  now_ = now;
  for (Entry* e = first_; e != nullptr;) {
    Entry* next = e->next_;
    if (e->at_ <= now) {
      unlink(*e);
      e->expired_ = true;
      // Only queues the read's completion: no entry is touched while this loop runs.
      boost::system::error_code ec;
      e->socket_->cancel(ec);
    }
    e = next;
  }
}

void ReadDeadlines::unlink(Entry& e) {
  if (e.prev_ != nullptr) {
    e.prev_->next_ = e.next_;
  } else {
    first_ = e.next_;
  }
  if (e.next_ != nullptr) e.next_->prev_ = e.prev_;
  e.prev_ = e.next_ = nullptr;
  e.owner_ = nullptr;
}

}  // namespace spillway::http::detail
