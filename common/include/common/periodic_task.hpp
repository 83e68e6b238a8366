#pragma once
// Work repeated on a schedule (message aging, reloading issued gateway
// tokens, returning freed heap to the system) on a thread of its own, never
// an I/O thread. Destroying it stops the thread at once, also mid-wait.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace umstore {

class PeriodicTask {
 public:
  // `work` runs `first_delay` after construction, then every `interval`
  // after each run ends. It must not throw.
  PeriodicTask(std::chrono::milliseconds first_delay, std::chrono::milliseconds interval, std::function<void()> work);
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: stops first
};

}  // namespace umstore
