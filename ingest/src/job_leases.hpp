#pragma once
// The upkeep of a shared job store's leases on this node: a thread that,
// a few times per lease, tells the store this node is alive (which renews
// the leases it holds) and schedules the jobs it takes over from nodes
// whose leases ran out. A node that stops renewing (killed, cut off from
// the database) loses its jobs to the others within one lease.
#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <thread>

#include "job_store.hpp"

namespace umstore::ingest {

class JobLeases {
 public:
  using Schedule = std::function<void(const std::string& id)>;
  using Room = std::function<std::size_t()>;  // how many more jobs this node takes now
  // `store` must outlive this.
  JobLeases(JobStore& store, std::chrono::milliseconds lease, Room room, Schedule schedule);
  ~JobLeases();  // stop()
  JobLeases(const JobLeases&) = delete;
  JobLeases& operator=(const JobLeases&) = delete;

  void start();
  void stop();

 private:
  void run(std::stop_token stop);
  void renew_and_take_over();

  JobStore& store_;
  const std::chrono::milliseconds period_;
  Room room_;
  Schedule schedule_;
  bool failing_ = false;  // the last renewal failed (logged once); the thread's own
  std::jthread thread_;
};

}  // namespace umstore::ingest
