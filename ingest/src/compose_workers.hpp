#pragma once
// The ingest queue's compose workers: the jobs due and when, and the threads
// that take them in batches, read them and compose their messages (voice
// encoded side by side in SIMD lanes: compose_batch) before handing each to
// job delivery. A job is in progress from when a worker takes it until
// delivery reports it finished; depth and idleness count those too.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "ingest/ingest_queue.hpp"
#include "job_store.hpp"
#include "queued_job.hpp"

namespace umstore::ingest {

class ComposeWorkers {
 public:
  struct Handlers {
    // Takes a composed job (or one that cannot be composed, with its
    // error); may wait while delivery is behind.
    std::function<void(ComposedJob&&)> hand_over;
    // A job whose recording cannot be read fails with this reason.
    std::function<void(const std::string& id, const std::string& reason)> fail;
  };

  // `config` and `db` must outlive the workers.
  ComposeWorkers(const IngestQueueConfig& config, JobStore& db, Handlers handlers);
  ~ComposeWorkers();  // stop()
  ComposeWorkers(const ComposeWorkers&) = delete;
  ComposeWorkers& operator=(const ComposeWorkers&) = delete;

  // Once per job: a job already waiting or being run is not scheduled
  // again (a shared store's lease upkeep offers this node's due jobs over
  // and over), except for its retry, scheduled while it is still running.
  enum class Run { once, retry };
  void schedule(const std::string& id, QueueClock::time_point when, Run run = Run::once);
  // A job removed from the store while it waits: out of the schedule, so
  // the depth is right at once (one already taken finds it gone itself).
  void unschedule(const std::string& id);
  void start();
  // Kills the decoders running (DecodeSandbox::interruption) and returns
  // once every batch taken is handed over; jobs not taken, and those whose
  // decoding was cut short, stay queued on disk.
  void stop();
  // A handed-over job was stored, failed or left for a retry.
  void job_finished(const std::string& id);

  // What recordings are composed with: config.settings until SIGHUP changes its limits.
  IngestSettings settings() const;
  void set_codec_limits(const codecs::AudioLimits& voice, const codecs::FaxLimits& fax);

  std::uint64_t depth() const;  // jobs due, waiting or in progress
  bool wait_idle(std::chrono::milliseconds timeout) const;

 private:
  void work();
  bool wait_for_due_jobs(std::unique_lock<std::mutex>& lock);
  std::size_t ready_jobs(std::size_t at_most) const;
  std::vector<std::string> take_due_batch();
  std::size_t run_batch(const std::vector<std::string>& ids);
  std::vector<ComposeOutcome> compose_each(std::span<const Recording* const> recordings) const;

  const IngestQueueConfig& config_;
  JobStore& db_;
  Handlers handlers_;

  const std::shared_ptr<Interruption> interruption_ = std::make_shared<Interruption>();
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  IngestSettings settings_;
  std::multimap<QueueClock::time_point, std::string> due_;  // ids by the time they may run
  std::unordered_set<std::string> waiting_;                 // the ids in due_
  std::unordered_set<std::string> running_;                 // taken by a worker, until finished
  std::size_t in_progress_ = 0;  // taken by a worker, until finished
  std::size_t busy_workers_ = 0;
  bool stopping_ = false;
  std::vector<std::jthread> threads_;
};

}  // namespace umstore::ingest
