#include "sqlite_job_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/durable_file.hpp"

namespace umstore::ingest {
namespace {

// Where a queued job's recording is kept: DATA_DIR/ingest/jobs/ID.
inline std::filesystem::path job_media_path(const std::filesystem::path& queue_dir, std::string_view id) {
  return queue_dir / "jobs" / std::string(id);
}

void write_file_durably(const std::filesystem::path& path, std::span<const std::uint8_t> data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd) throw IoError("cannot create", path, errno);
  write_all(fd.get(), std::as_bytes(data), path);
  fsync_fd(fd.get(), path);
}

// A spool drop under the queue's name: a hard link where both are on one
// file system (its bytes are not written a second time), else a copy;
// fsync'ed either way. Returns the size.
std::uintmax_t link_or_copy_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::link(from.c_str(), to.c_str()) != 0) {
    const std::vector<std::uint8_t> bytes = read_file_bytes(from);
    write_file_durably(to, bytes);
    return bytes.size();
  }
  UniqueFd fd(::open(to.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw IoError("cannot open", to, errno);
  fsync_fd(fd.get(), to);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw IoError("cannot stat", to, errno);
  return static_cast<std::uintmax_t>(st.st_size);
}

// Puts the recording at `path`, durably (its directory entry too); returns its size.
std::uintmax_t keep_media(const JobMedia& media, const std::filesystem::path& path) {
  std::uintmax_t size = 0;
  if (const auto* bytes = std::get_if<std::span<const std::uint8_t>>(&media)) {
    write_file_durably(path, *bytes);
    size = bytes->size();
  } else {
    size = link_or_copy_durably(std::get<std::filesystem::path>(media), path);
  }
  fsync_directory(path.parent_path());
  return size;
}

Kind parse_kind(std::string_view s) { return s == "fax" ? Kind::Fax : Kind::Voice; }

IngestState parse_state(std::string_view s) {
  if (s == "delivered") return IngestState::Delivered;
  if (s == "failed") return IngestState::Failed;
  return IngestState::Queued;  // queued and delivering
}

// The columns status_where() reads, in its order.
std::string select_status_where(std::string_view condition) {
  return "SELECT id, state, kind, to_number, reason, uid, source, origin, callback_url, accepted_ms, finished_ms,"
         " forwarded_to, dsn_action, dsn_status, dsn_diagnostic, dsn_recipient, dsn_remote_mta FROM jobs WHERE " +
         std::string(condition);
}

// A row of select_status_where().
IngestStatus status_row(const sqlite::Statement::Run& run) {
  IngestStatus s;
  s.id = run.text(0);
  s.state = parse_state(run.text(1));
  s.kind = parse_kind(run.text(2));
  s.mailbox = run.text(3);
  s.reason = run.text(4);
  s.uid = static_cast<std::uint32_t>(run.integer(5));
  s.source = run.text(6);
  s.origin = run.text(7);
  s.callback_url = run.text(8);
  s.accepted_ms = run.integer(9);
  s.finished_ms = run.integer(10);
  s.forwarded_to = run.text(11);
  s.dsn.action = run.text(12);
  s.dsn.status = run.text(13);
  s.dsn.diagnostic_code = run.text(14);
  s.dsn.final_recipient = run.text(15);
  s.dsn.remote_mta = run.text(16);
  return s;
}

}  // namespace

struct SqliteJobStore::Statements {
  explicit Statements(sqlite::Database& db)
      : insert_job(db,
                   "INSERT INTO jobs(id, source, idem_key, origin, callback_url, kind, to_number, to_name,"
                   " caller_number, caller_name, file_name, received_ms, accepted_ms, note, state)"
                   " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,'queued')"),
        status_by_id(db, select_status_where("id = ?")),
        status_by_key(db, select_status_where("source = ? AND idem_key = ?")),
        load(db,
             "SELECT kind, to_number, to_name, caller_number, caller_name, file_name, received_ms, source, accepted_ms,"
             " state, attempts, note FROM jobs WHERE id = ?"),
        queued_ids(db, "SELECT id FROM jobs WHERE state = 'queued' ORDER BY accepted_ms"),
        interrupted(db, "SELECT id, to_number, attempt_uid_next FROM jobs WHERE state = 'delivering'"),
        mark_queued(db, "UPDATE jobs SET state = 'queued' WHERE id = ?"),
        mark_delivering(db, "UPDATE jobs SET state = 'delivering', attempt_uid_next = ? WHERE id = ?"),
        set_reason(db, "UPDATE jobs SET reason = ? WHERE id = ?"),
        record_retry(db, "UPDATE jobs SET state = 'queued', reason = ?, attempts = attempts + 1 WHERE id = ?"),
        record_outcome(db,
                       "UPDATE jobs SET state = ?, reason = ?, uid = ?, finished_ms = ?, forwarded_to = ?"
                       " WHERE id = ?"),
        record_report(db,
                      "UPDATE jobs SET dsn_action = ?, dsn_status = ?, dsn_diagnostic = ?, dsn_recipient = ?,"
                      " dsn_remote_mta = ?, state = CASE WHEN ? THEN 'failed' ELSE state END,"
                      " reason = CASE WHEN ? THEN ? ELSE reason END WHERE id = ?"),
        owe_webhook(db,
                    "INSERT INTO webhooks(job_id, url, next_ms) SELECT id, callback_url, ? FROM jobs"
                    " WHERE id = ? AND callback_url != ''"),
        next_webhook(db,
                     "SELECT seq, job_id, url, attempts, next_ms FROM webhooks WHERE state = 'pending'"
                     " ORDER BY next_ms LIMIT 1"),
        record_webhook_attempt(db,
                               "UPDATE webhooks SET attempts = ?, state = ?, next_ms = ?, last_error = ?"
                               " WHERE seq = ?"),
        pending_webhooks(db, "SELECT count(*) FROM webhooks WHERE state = 'pending'") {}

  sqlite::Statement insert_job, status_by_id, status_by_key, load, queued_ids, interrupted, mark_queued, mark_delivering,
      set_reason, record_retry, record_outcome, record_report, owe_webhook, next_webhook, record_webhook_attempt,
      pending_webhooks;
};

SqliteJobStore::SqliteJobStore(const std::filesystem::path& queue_dir)
    : dir_((create_directories_durably(queue_dir / "jobs"), create_directories_durably(queue_dir / "failed"), queue_dir)),
      db_(dir_ / "queue.db", "ingest queue database") {
  db_.exec(R"(CREATE TABLE IF NOT EXISTS jobs(
    id TEXT PRIMARY KEY, source TEXT NOT NULL, idem_key TEXT, origin TEXT NOT NULL DEFAULT '',
    callback_url TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL, to_number TEXT NOT NULL,
    to_name TEXT NOT NULL, caller_number TEXT NOT NULL, caller_name TEXT NOT NULL, file_name TEXT NOT NULL,
    received_ms INTEGER NOT NULL, accepted_ms INTEGER NOT NULL, state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '', uid INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0,
    attempt_uid_next INTEGER NOT NULL DEFAULT 0, UNIQUE(source, idem_key)))");
  db_.exec("CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state)");
  // Columns added since the first version; existing databases gain them here.
  for (const char* column : {"attempts INTEGER NOT NULL DEFAULT 0", "forwarded_to TEXT NOT NULL DEFAULT ''",
                             "dsn_action TEXT NOT NULL DEFAULT ''", "dsn_status TEXT NOT NULL DEFAULT ''",
                             "dsn_diagnostic TEXT NOT NULL DEFAULT ''", "dsn_recipient TEXT NOT NULL DEFAULT ''",
                             "dsn_remote_mta TEXT NOT NULL DEFAULT ''", "note TEXT NOT NULL DEFAULT ''"})
    add_column_if_missing(column);
  // One row per webhook owed: written in the same transaction as the
  // status it reports, so a crash cannot lose it.
  db_.exec(R"(CREATE TABLE IF NOT EXISTS webhooks(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, url TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT NOT NULL DEFAULT ''))");
  db_.exec("CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks(state, next_ms)");
  statements_ = std::make_unique<Statements>(db_);
}

SqliteJobStore::~SqliteJobStore() = default;  // statements_ (declared after db_) are finalised first

void SqliteJobStore::add_column_if_missing(std::string_view definition) {
  const std::string name(definition.substr(0, definition.find(' ')));
  if (!db_.has_column("jobs", name)) db_.exec("ALTER TABLE jobs ADD COLUMN " + std::string(definition));
}

std::optional<std::uintmax_t> SqliteJobStore::insert(std::string_view id, const Recording& r, const SubmitOptions& o,
                                                     std::int64_t accepted_ms, const JobMedia& media) {
  const auto path = job_media_path(dir_, id);
  std::uintmax_t size = 0;
  try {
    size = keep_media(media, path);
  } catch (const IoError& e) {
    std::filesystem::remove(path);
    throw IngestQueueError(std::string("cannot queue the recording: ") + e.what());
  }
  std::lock_guard lock(mutex_);
  auto run = statements_->insert_job.run();
  run.bind(1, id).bind(2, o.source);
  if (o.idempotency_key.empty()) run.bind_null(3);
  else run.bind(3, o.idempotency_key);
  run.bind(4, o.origin).bind(5, o.callback_url).bind(6, kind_name(r.kind)).bind(7, r.to_number).bind(8, r.to_name);
  run.bind(9, r.caller.number).bind(10, r.caller.name).bind(11, r.file_name);
  const auto received = std::chrono::duration_cast<std::chrono::milliseconds>(r.received.time_since_epoch());
  run.bind(12, std::int64_t{received.count()});
  run.bind(13, accepted_ms).bind(14, r.note);
  try {
    run.step();
    return size;
  } catch (const sqlite::SqliteError& e) {
    std::filesystem::remove(path);
    if (!e.constraint()) throw IngestQueueError(e.what());
  }
  return std::nullopt;  // the same key raced in from another connection
}

std::vector<std::uint8_t> SqliteJobStore::read_media(std::string_view id) {
  return read_file_bytes(job_media_path(dir_, id));
}

std::optional<IngestStatus> SqliteJobStore::status_where(sqlite::Statement& query, std::string_view a, std::string_view b) {
  std::lock_guard lock(mutex_);
  auto run = query.run();
  run.bind(1, a);
  if (!b.empty()) run.bind(2, b);
  if (!run.step()) return std::nullopt;
  return status_row(run);
}

std::optional<IngestStatus> SqliteJobStore::status(std::string_view id) {
  // A database failure on a gateway's request path (a full disk) is the
  // queue's: the gateway is told to retry (503), nothing was accepted.
  return sqlite::errors_as<IngestQueueError>([&] { return status_where(statements_->status_by_id, id, {}); });
}

std::optional<IngestStatus> SqliteJobStore::find(std::string_view source, std::string_view idempotency_key) {
  return sqlite::errors_as<IngestQueueError>([&] { return status_where(statements_->status_by_key, source, idempotency_key); });
}

std::optional<QueuedJob> SqliteJobStore::load(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto run = statements_->load.run();
  if (!run.bind(1, id).step()) return std::nullopt;
  QueuedJob job;
  auto& r = job.recording;
  r.kind = parse_kind(run.text(0));
  r.to_number = run.text(1);
  r.to_name = run.text(2);
  r.caller.number = run.text(3);
  r.caller.name = run.text(4);
  r.file_name = run.text(5);
  r.received = QueueClock::time_point(std::chrono::milliseconds(run.integer(6)));
  job.source = run.text(7);
  job.accepted_ms = run.integer(8);
  job.state = run.text(9);
  job.attempts = static_cast<std::size_t>(run.integer(10));
  r.note = run.text(11);
  return job;
}

// One node: every queued job is this node's, taken once at start.
std::vector<std::string> SqliteJobStore::take_queued(bool starting, std::size_t) {
  std::vector<std::string> ids;
  if (!starting) return ids;
  std::lock_guard lock(mutex_);
  auto run = statements_->queued_ids.run();
  while (run.step()) ids.push_back(run.text(0));
  return ids;
}

std::vector<InterruptedJob> SqliteJobStore::interrupted_jobs() {
  std::lock_guard lock(mutex_);
  std::vector<InterruptedJob> jobs;
  auto run = statements_->interrupted.run();
  while (run.step())
    jobs.push_back({run.text(0), run.text(1), static_cast<std::uint32_t>(run.integer(2))});
  return jobs;
}

void SqliteJobStore::mark_queued(std::string_view id) {
  std::lock_guard lock(mutex_);
  statements_->mark_queued.run().bind(1, id).step();
}

bool SqliteJobStore::mark_delivering(std::string_view id, std::uint32_t uid_next) {
  std::lock_guard lock(mutex_);
  statements_->mark_delivering.run().bind(1, std::int64_t{uid_next}).bind(2, id).step();
  return db_.changes() > 0;
}

void SqliteJobStore::set_reason(std::string_view id, std::string_view reason) {
  std::lock_guard lock(mutex_);
  statements_->set_reason.run().bind(1, reason).bind(2, id).step();
}

// The delay is kept by the caller's schedule: one node runs every job.
void SqliteJobStore::record_retry(std::string_view id, std::string_view reason, std::chrono::milliseconds) {
  std::lock_guard lock(mutex_);
  statements_->record_retry.run().bind(1, reason).bind(2, id).step();
}

void SqliteJobStore::owe_webhook(std::string_view id) {
  statements_->owe_webhook.run().bind(1, now_ms()).bind(2, id).step();
}

bool SqliteJobStore::record_outcome(std::string_view id, const JobOutcome& outcome) {
  std::unique_lock lock(mutex_);
  sqlite::Transaction transaction(db_);
  statements_->record_outcome.run()
      .bind(1, state_name(outcome.state))
      .bind(2, outcome.reason)
      .bind(3, std::int64_t{outcome.uid})
      .bind(4, outcome.finished_ms)
      .bind(5, outcome.forwarded_to)
      .bind(6, id)
      .step();
  owe_webhook(id);
  transaction.commit();
  lock.unlock();
  const auto media = job_media_path(dir_, id);
  std::error_code ec;
  if (outcome.state == IngestState::Delivered)
    std::filesystem::remove(media, ec);
  else  // the original is kept so an administrator can see what was refused
    std::filesystem::rename(media, dir_ / "failed" / std::string(id), ec);
  return true;
}

void SqliteJobStore::record_report(std::string_view id, const ReportUpdate& update) {
  std::lock_guard lock(mutex_);
  sqlite::Transaction transaction(db_);
  const DeliveryReport& report = update.report;
  const std::int64_t failure = update.failure;
  statements_->record_report.run()
      .bind(1, report.action)
      .bind(2, report.status)
      .bind(3, report.diagnostic_code)
      .bind(4, report.final_recipient)
      .bind(5, report.remote_mta)
      .bind(6, failure)
      .bind(7, failure)
      .bind(8, update.reason)
      .bind(9, id)
      .step();
  if (update.owes_webhook) owe_webhook(id);
  transaction.commit();
}

std::vector<IngestStatus> SqliteJobStore::open_jobs(std::size_t limit) {
  std::lock_guard lock(mutex_);
  sqlite::Statement query(db_, select_status_where("state != 'delivered' ORDER BY accepted_ms DESC LIMIT ?"));
  auto run = query.run();
  run.bind(1, static_cast<std::int64_t>(limit));
  std::vector<IngestStatus> jobs;
  while (run.step()) jobs.push_back(status_row(run));
  return jobs;
}

bool SqliteJobStore::is_failed(std::string_view id) {
  sqlite::Statement query(db_, "SELECT 1 FROM jobs WHERE id = ? AND state = 'failed'");
  return query.run().bind(1, id).step();
}

// The kept recording goes back first: a crash between the two leaves a
// failed job whose recording is in jobs/, which a second retry takes as it is.
bool SqliteJobStore::requeue_failed(std::string_view id) {
  std::lock_guard lock(mutex_);
  if (!is_failed(id)) return false;
  const auto kept = dir_ / "failed" / std::string(id);
  if (std::filesystem::exists(kept)) {
    std::filesystem::rename(kept, job_media_path(dir_, id));
    fsync_directory(dir_ / "jobs");
  }
  sqlite::Statement update(db_, "UPDATE jobs SET state = 'queued', reason = '', finished_ms = 0, attempts = 0 WHERE id = ?");
  update.run().bind(1, id).step();
  return true;
}

bool SqliteJobStore::remove(std::string_view id) {
  std::unique_lock lock(mutex_);
  sqlite::Statement query(db_, "SELECT 1 FROM jobs WHERE id = ? AND state IN ('queued', 'failed')");
  if (!query.run().bind(1, id).step()) return false;
  sqlite::Transaction transaction(db_);
  delete_rows(id);
  transaction.commit();
  lock.unlock();
  remove_files(id);
  return true;
}

void SqliteJobStore::delete_rows(std::string_view id) {
  for (const char* sql : {"DELETE FROM webhooks WHERE job_id = ?", "DELETE FROM jobs WHERE id = ?"}) {
    sqlite::Statement remove(db_, sql);
    remove.run().bind(1, id).step();
  }
}

void SqliteJobStore::remove_files(std::string_view id) {
  for (const auto& file : {dir_ / "failed" / std::string(id), job_media_path(dir_, id)})
    if (std::filesystem::remove(file)) fsync_directory(file.parent_path());
}

std::optional<OwedWebhook> SqliteJobStore::next_webhook() {
  std::lock_guard lock(mutex_);
  auto run = statements_->next_webhook.run();
  if (!run.step()) return std::nullopt;
  return OwedWebhook{run.integer(0), run.text(1), run.text(2), static_cast<unsigned>(run.integer(3)), run.integer(4)};
}

void SqliteJobStore::record_webhook_attempt(std::int64_t seq, unsigned attempts, std::string_view state,
                                         std::int64_t next_ms, std::string_view error) {
  std::lock_guard lock(mutex_);
  statements_->record_webhook_attempt.run()
      .bind(1, std::int64_t{attempts})
      .bind(2, state)
      .bind(3, next_ms)
      .bind(4, error)
      .bind(5, seq)
      .step();
}

std::uint64_t SqliteJobStore::pending_webhooks() {
  std::lock_guard lock(mutex_);
  auto run = statements_->pending_webhooks.run();
  return run.step() ? static_cast<std::uint64_t>(run.integer(0)) : 0;
}

std::vector<ErasedJob> SqliteJobStore::erase_caller(std::string_view caller_number, bool dry_run) {
  std::vector<ErasedJob> erased;
  std::unique_lock lock(mutex_);
  sqlite::Transaction transaction(db_);
  sqlite::Statement pick(db_,
                         "SELECT id, state, kind, accepted_ms FROM jobs WHERE caller_number = ? AND state != 'delivering'"
                         " ORDER BY accepted_ms");
  auto run = pick.run();
  run.bind(1, caller_number);
  while (run.step())
    erased.push_back({run.text(0), run.text(1), run.text(2), run.integer(3)});
  if (dry_run) return erased;
  for (const auto& job : erased) delete_rows(job.id);
  transaction.commit();
  lock.unlock();
  for (const auto& job : erased) remove_files(job.id);
  return erased;
}

}  // namespace umstore::ingest
