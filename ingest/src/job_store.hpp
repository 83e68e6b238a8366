#pragma once
// Where the ingest queue keeps its jobs, their recordings and the webhooks
// owed: the one durable state of the queue. Two kinds:
//  - SqliteJobStore (DATA_DIR/ingest): one node; recordings are files.
//  - PgJobStore (the PostgreSQL backend's database): shared by every node;
//    recordings are rows; a node runs a job only while it holds the job's
//    lease, which its heartbeat renews, so the jobs of a node that died are
//    taken over by another once their leases run out. A job run twice that
//    way is stored once: delivery into the mailbox is keyed by the ingest id
//    (MailStore::deliver_once) in the same transaction as the append.
// Every method is thread-safe and durable when it returns.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ingest/ingest_queue.hpp"
#include "queued_job.hpp"

namespace umstore::ingest {

// A job marked delivering when the process stopped, and where to look for it.
struct InterruptedJob {
  std::string id;
  std::string number;
  std::uint32_t uid_next = 0;       // the target folder's UIDNEXT before the attempt
};

struct OwedWebhook {
  std::int64_t seq = 0;
  std::string job_id;
  std::string url;
  unsigned attempts = 0;
  std::int64_t next_ms = 0;
};

// A job's final state; a webhook is owed with it when the job has a callback URL.
struct JobOutcome {
  IngestState state = IngestState::Failed;
  std::string reason;
  std::uint32_t uid = 0;
  std::int64_t finished_ms = 0;
  std::string forwarded_to;
};

// A DSN for a job's forwarded copy; `failure` also fails the job with `reason`.
struct ReportUpdate {
  DeliveryReport report;
  bool failure = false;
  std::string reason;
  bool owes_webhook = false;
};

// A recording's bytes as handed over, or a spool file that will not change
// any more (kept by hard link where the store can, else copied).
using JobMedia = std::variant<std::span<const std::uint8_t>, std::filesystem::path>;

// The store cannot be reached now (a shared store's database is away): the
// job is fine and runs once it is back.
class JobStoreUnavailable : public IngestQueueError {
  using IngestQueueError::IngestQueueError;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // True when other nodes take jobs from this store too.
  virtual bool shared() const noexcept = 0;

  // Keeps the job and its recording; returns the recording's size, or
  // nullopt when (source, idempotency key) is taken already (nothing kept).
  // A shared store leases the job to this node.
  virtual std::optional<std::uintmax_t> insert(std::string_view id, const Recording& recording,
                                               const SubmitOptions& options, std::int64_t accepted_ms,
                                               const JobMedia& media) = 0;
  virtual std::optional<IngestStatus> status(std::string_view id) = 0;
  virtual std::optional<IngestStatus> find(std::string_view source, std::string_view idempotency_key) = 0;
  // The job without its recording's bytes.
  virtual std::optional<QueuedJob> load(std::string_view id) = 0;
  virtual std::vector<std::uint8_t> read_media(std::string_view id) = 0;

  // The queued jobs this node should schedule now, oldest first, leased to
  // it: at start (`starting`) every one (SQLite); on a shared store, at
  // start and then a few times per lease, those due that are this node's
  // (a retry whose recording met an outage) or whose lease ran out (taken
  // over from a node that is gone). A shared store hands out at most
  // `at_most`, so a busy node does not hoard the cluster's backlog (its
  // heartbeat would keep the leases); the one-node store gives every job.
  virtual std::vector<std::string> take_queued(bool starting, std::size_t at_most) = 0;
  virtual std::vector<InterruptedJob> interrupted_jobs() = 0;
  // Shared: this node is alive; its leases (jobs, webhooks) are renewed.
  virtual void heartbeat() = 0;

  virtual void mark_queued(std::string_view id) = 0;
  // Recorded before the message goes into the mailbox, for recovery. False
  // only when the job is gone (an administrator or an erasure removed it
  // while it was composed): it must not be delivered.
  virtual bool mark_delivering(std::string_view id, std::uint32_t uid_next) = 0;
  virtual void set_reason(std::string_view id, std::string_view reason) = 0;
  // Queued again, due after `delay` (the lease stays: this node retries it).
  virtual void record_retry(std::string_view id, std::string_view reason, std::chrono::milliseconds delay) = 0;
  // Also disposes of the recording: removed once delivered, kept for the
  // administrator when failed. False when the job was final already
  // (another node finished it first): nothing changed, no webhook owed.
  virtual bool record_outcome(std::string_view id, const JobOutcome& outcome) = 0;
  virtual void record_report(std::string_view id, const ReportUpdate& update) = 0;

  // For the administrator: the jobs waiting and failed, newest first, at most `limit`.
  virtual std::vector<IngestStatus> open_jobs(std::size_t limit) = 0;
  // A failed job queued again with its kept recording (leased to this node
  // when shared); the caller schedules it. False when no failed job has this id.
  virtual bool requeue_failed(std::string_view id) = 0;
  // A queued or failed job, its recording and any webhook owed for it,
  // gone. False when no such job has this id (unknown, delivered, or being
  // delivered right now).
  virtual bool remove(std::string_view id) = 0;

  // The pending webhook due first (leased to this node when shared).
  virtual std::optional<OwedWebhook> next_webhook() = 0;
  // state: sent, pending (next_ms: when to try again) or gave_up.
  virtual void record_webhook_attempt(std::int64_t seq, unsigned attempts, std::string_view state,
                                      std::int64_t next_ms, std::string_view error) = 0;
  virtual std::uint64_t pending_webhooks() = 0;

  // IngestQueue::erase_caller: the rows, recordings and webhooks of every
  // job of that caller not being delivered now, in one transaction.
  virtual std::vector<ErasedJob> erase_caller(std::string_view caller_number, bool dry_run) = 0;
};

}  // namespace umstore::ingest
