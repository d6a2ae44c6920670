#include "util/quiet_thread.h"

#include <pthread.h>
#include <signal.h>

namespace spillway::util {

std::thread start_quiet_thread(std::function<void()> fn) {
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  std::thread t(std::move(fn));  // inherits the full mask
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

}  // namespace spillway::util
