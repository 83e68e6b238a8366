#include "common/periodic_task.hpp"

namespace umstore {

PeriodicTask::PeriodicTask(std::chrono::milliseconds first_delay, std::chrono::milliseconds interval,
                           std::function<void()> work)
    : thread_([this, first_delay, interval, work = std::move(work)](std::stop_token stop) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, stop, first_delay, [] { return false; });  // woken early only by the stop
        while (!stop.stop_requested()) {
          lock.unlock();
          work();
          lock.lock();
          wake_.wait_for(lock, stop, interval, [] { return false; });
        }
      }) {}

}  // namespace umstore
