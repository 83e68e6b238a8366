#pragma once
// The ingest queue's SQLite database (DATA_DIR/ingest/queue.db): one row per
// job and one per webhook owed. Every SQL statement of the queue is here,
// prepared once. One connection, serialised by its own mutex; WAL with
// synchronous=FULL, so a commit that returned survives power loss.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/ingest_queue.hpp"
#include "queued_job.hpp"

struct sqlite3;

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

class JobDatabase {
 public:
  // Creates the file and its tables, or brings an older one up to date.
  explicit JobDatabase(const std::filesystem::path& file);
  ~JobDatabase();
  JobDatabase(const JobDatabase&) = delete;
  JobDatabase& operator=(const JobDatabase&) = delete;

  // False when (source, idempotency key) is taken already.
  bool insert(std::string_view id, const Recording& recording, const SubmitOptions& options,
              std::int64_t accepted_ms);
  std::optional<IngestStatus> status(std::string_view id);
  std::optional<IngestStatus> find(std::string_view source, std::string_view idempotency_key);
  // The job without its recording's bytes.
  std::optional<QueuedJob> load(std::string_view id);
  std::vector<std::string> queued_ids();  // oldest first
  std::vector<InterruptedJob> interrupted_jobs();

  void mark_queued(std::string_view id);
  // Recorded before the message goes into the mailbox, for recovery.
  void mark_delivering(std::string_view id, std::uint32_t uid_next);
  void set_reason(std::string_view id, std::string_view reason);
  void record_retry(std::string_view id, std::string_view reason);
  void record_outcome(std::string_view id, const JobOutcome& outcome);
  void record_report(std::string_view id, const ReportUpdate& update);

  std::optional<OwedWebhook> next_webhook();
  // state: sent, pending (next_ms: when to try again) or gave_up.
  void record_webhook_attempt(std::int64_t seq, unsigned attempts, std::string_view state, std::int64_t next_ms,
                              std::string_view error);
  std::uint64_t pending_webhooks();

 private:
  class Statement;
  struct Statements;
  class Transaction;

  void exec(const char* sql);
  void add_column_if_missing(std::string_view definition);
  void owe_webhook(std::string_view id);  // inside the transaction that changed the job
  std::optional<IngestStatus> status_where(Statement& query, std::string_view a, std::string_view b);

  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;
  std::mutex mutex_;
};

}  // namespace umstore::ingest
