#include "limits/estimate_offload.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <exception>
#include <mutex>
#include <utility>

namespace spillway::limits {

namespace asio = boost::asio;

struct EstimateOffload::Impl {
  std::mutex mu;
  std::unique_ptr<asio::thread_pool> pool;  // guarded by mu; made by the first run()
  bool finished = false;                    // guarded by mu

  // REQUIRES: mu held.
  asio::thread_pool& started() {
    if (!pool) {
      pool = std::make_unique<asio::thread_pool>(1);
      asio::post(*pool, [] {
        pthread_setname_np(pthread_self(), "spw-estimate");
        // 10 below the request workers: a worker that needs the CPU gets it first. Failing to lower it
        // only costs that preference.
        const auto self = static_cast<id_t>(gettid());
        errno = 0;
        const int nice = getpriority(PRIO_PROCESS, self);
        if (errno == 0) (void)setpriority(PRIO_PROCESS, self, std::min(nice + 10, 19));
      });
    }
    return *pool;
  }
};

EstimateOffload::EstimateOffload() : impl_(std::make_unique<Impl>()) {}

EstimateOffload::~EstimateOffload() { finish(); }

asio::awaitable<int64_t> EstimateOffload::run(std::function<int64_t()> count) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, int64_t)>(
      [impl = impl_.get()](auto handler, std::function<int64_t()> count) {
        // Tracked: the caller's event loop does not run out of work while the count is pending.
        auto caller =
            asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
        auto job = [count = std::move(count), handler = std::move(handler),
                    caller = std::move(caller)]() mutable {
          std::exception_ptr error;
          int64_t n = 0;
          try {
            n = count();
          } catch (...) {
            error = std::current_exception();  // rethrown by the caller's co_await
          }
          asio::post(caller,
                     [handler = std::move(handler), error, n]() mutable { std::move(handler)(error, n); });
        };
        std::unique_lock lock(impl->mu);
        if (impl->finished) {
          lock.unlock();
          job();
          return;
        }
        asio::post(impl->started(), std::move(job));
      },
      asio::use_awaitable, std::move(count));
}

void EstimateOffload::finish() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->finished) return;
    impl_->finished = true;
  }
  // No run() touches the pool once finished is set.
  if (impl_->pool) impl_->pool->join();
}

}  // namespace spillway::limits
