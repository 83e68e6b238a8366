#pragma once
// The ingest queue's store on one node: DATA_DIR/ingest/queue.db (SQLite)
// with one row per job and one per webhook owed, and each job's recording
// in DATA_DIR/ingest/jobs/ID (failed ones moved to failed/ID). Every SQL
// statement is here, prepared once. One connection, serialised by its own
// mutex; WAL with synchronous=FULL, so a commit that returned survives
// power loss.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "job_store.hpp"
#include "sqlite/database.hpp"

namespace umstore::ingest {

class SqliteJobStore final : public JobStore {
 public:
  // Creates the directories, the database and its tables, or brings an
  // older database up to date.
  explicit SqliteJobStore(const std::filesystem::path& queue_dir);
  ~SqliteJobStore() override;
  SqliteJobStore(const SqliteJobStore&) = delete;
  SqliteJobStore& operator=(const SqliteJobStore&) = delete;

  bool shared() const noexcept override { return false; }

  std::optional<std::uintmax_t> insert(std::string_view id, const Recording& recording, const SubmitOptions& options,
                                       std::int64_t accepted_ms, const JobMedia& media) override;
  std::optional<IngestStatus> status(std::string_view id) override;
  std::optional<IngestStatus> find(std::string_view source, std::string_view idempotency_key) override;
  std::optional<QueuedJob> load(std::string_view id) override;
  std::vector<std::uint8_t> read_media(std::string_view id) override;
  std::vector<std::string> take_queued(bool starting, std::size_t at_most) override;
  std::vector<InterruptedJob> interrupted_jobs() override;
  void heartbeat() override {}

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
  struct Statements;

  void add_column_if_missing(std::string_view definition);
  void owe_webhook(std::string_view id);  // inside the transaction that changed the job
  std::optional<IngestStatus> status_where(sqlite::Statement& query, std::string_view a, std::string_view b);
  bool is_failed(std::string_view id);  // under mutex_
  // Under mutex_, inside a transaction: the job's row and the webhooks it owes.
  void delete_rows(std::string_view id);
  // After the commit: a crash in between leaves files no row names, never a
  // row without its file.
  void remove_files(std::string_view id);

  std::filesystem::path dir_;
  sqlite::Database db_;
  std::unique_ptr<Statements> statements_;  // after db_: finalised before it closes
  std::mutex mutex_;
};

}  // namespace umstore::ingest
