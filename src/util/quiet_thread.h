#pragma once
// Threads that never take a process signal.

#include <functional>
#include <thread>

namespace spillway::util {

// Starts `fn` on a new thread that has every signal blocked (signals go to the main thread's sigwait).
std::thread start_quiet_thread(std::function<void()> fn);

}  // namespace spillway::util
