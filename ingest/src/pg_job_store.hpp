#pragma once
// The ingest queue's store in the PostgreSQL backend's database, shared by
// every node (job_store.hpp says how leases and take-over work). Tables
// ingest_jobs (the recording in a bytea column until delivered),
// ingest_webhooks and cluster_nodes, created at start under an advisory
// lock so that nodes starting together take turns. Times are the
// database's clock, so nodes whose clocks differ agree on leases.
#include <chrono>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "job_store.hpp"
#include "pgsql/connection_pool.hpp"

namespace umstore::ingest {

class PgJobStore final : public JobStore {
 public:
  // Throws IngestQueueError naming the database when it cannot be reached.
  PgJobStore(const std::string& conninfo, std::size_t pool_size, std::string node_id,
             std::chrono::milliseconds lease);

  bool shared() const noexcept override { return true; }

  std::optional<std::uintmax_t> insert(std::string_view id, const Recording& recording, const SubmitOptions& options,
                                       std::int64_t accepted_ms, const JobMedia& media) override;
  std::optional<IngestStatus> status(std::string_view id) override;
  std::optional<IngestStatus> find(std::string_view source, std::string_view idempotency_key) override;
  std::optional<QueuedJob> load(std::string_view id) override;
  std::vector<std::uint8_t> read_media(std::string_view id) override;
  std::vector<std::string> take_queued(bool starting, std::size_t at_most) override;
  // Nothing to recover: a job taken over in the middle of its delivery is
  // simply run again, and the delivery key finds its copy.
  std::vector<InterruptedJob> interrupted_jobs() override { return {}; }
  void heartbeat() override;

  void mark_queued(std::string_view id) override;
  bool mark_delivering(std::string_view id, std::uint32_t uid_next) override;
  void set_reason(std::string_view id, std::string_view reason) override;
  void record_retry(std::string_view id, std::string_view reason, std::chrono::milliseconds delay) override;
  bool record_outcome(std::string_view id, const JobOutcome& outcome) override;
  void record_report(std::string_view id, const ReportUpdate& update) override;

  std::vector<IngestStatus> open_jobs(std::size_t limit) override;
  bool requeue_failed(std::string_view id) override;
  bool remove(std::string_view id) override;

  std::optional<OwedWebhook> next_webhook() override;
  void record_webhook_attempt(std::int64_t seq, unsigned attempts, std::string_view state, std::int64_t next_ms,
                              std::string_view error) override;
  std::uint64_t pending_webhooks() override;
  std::vector<ErasedJob> erase_caller(std::string_view caller_number, bool dry_run) override;

 private:
  template <typename Work>
  auto run(Work&& work);
  std::optional<IngestStatus> status_where(std::string_view condition, std::string_view a, std::string_view b);

  // Recordings this node accepted, kept until a compose worker reads them
  // (moments later, as a rule): reading a minute of WAV back out of the
  // database cost it about a twelfth of its CPU under load. At most
  // kHeldBytes, the oldest dropped first; a job another node runs, or one
  // read again for a retry, comes from the database as before. Removing or
  // erasing a job here drops its copy too (one erased by another process
  // is never read, as its row is gone, and ages out).
  static constexpr std::size_t kHeldBytes = 64u << 20;
  void hold(std::string_view id, std::span<const std::uint8_t> bytes);
  std::optional<std::vector<std::uint8_t>> take_held(std::string_view id);
  struct Held {
    std::uint64_t seq = 0;
    std::vector<std::uint8_t> bytes;
  };
  std::mutex held_mutex_;
  std::map<std::string, Held, std::less<>> held_;
  std::map<std::uint64_t, std::string> held_order_;  // seq -> id, oldest first
  std::uint64_t held_seq_ = 0;
  std::size_t held_bytes_ = 0;

  pgsql::ConnectionPool pool_;
  const std::string node_id_;
  const std::string lease_ms_;
  const std::int64_t started_ms_;
};

}  // namespace umstore::ingest
