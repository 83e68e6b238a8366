#include "job_leases.hpp"

#include <algorithm>

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
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::jthread([this] { run(); });
}

void JobLeases::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobLeases::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (changed_.wait_for(lock, period_, [this] { return stopping_; })) return;
    }
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
