#include "job_leases.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "common/log.hpp"

namespace umstore::ingest {

// Three renewals per lease: one missed (a slow query, a database restart)
// does not lose the jobs.
JobLeases::JobLeases(JobStore& store, std::chrono::milliseconds lease, Room room, Schedule schedule)
    : store_(store),
      period_(std::max(std::chrono::milliseconds(100), lease / 3)),
      room_(std::move(room)),
      schedule_(std::move(schedule)) {}

JobLeases::~JobLeases() { stop(); }

void JobLeases::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void JobLeases::stop() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void JobLeases::run(std::stop_token stop) {
  // Only the wait uses them: a stop request ends it early.
  std::mutex mutex;
  std::condition_variable_any stopped;
  std::unique_lock lock(mutex);
  for (;;) {
    stopped.wait_for(lock, stop, period_, [] { return false; });
    if (stop.stop_requested()) return;
    renew_and_take_over();
  }
}

// A database that cannot be reached is logged once until it answers again.
void JobLeases::renew_and_take_over() {
  try {
    store_.heartbeat();
    for (const auto& id : store_.take_queued(false, room_())) schedule_(id);
    if (failing_) log(LogLevel::Info, kQueueLog, "leases: the database answers again");
    failing_ = false;
  } catch (const std::exception& e) {
    if (!failing_) log(LogLevel::Warning, kQueueLog, "leases: cannot renew this node's leases: {}", e.what());
    failing_ = true;
  }
}

}  // namespace umstore::ingest
