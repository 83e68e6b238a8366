#include "ingest/ingest_queue.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "common/rfc5322_date.hpp"
#include "mailstore/mail_store.hpp"

namespace umstore::ingest {
namespace {

constexpr std::string_view kLog = "ingest";
using Clock = std::chrono::system_clock;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::string new_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{:016x}{:08x}", random(), static_cast<std::uint32_t>(random()));
}

std::string_view kind_name(Kind k) { return k == Kind::Voice ? "voice" : "fax"; }

// A job's state that a temporary failure (over quota, disk) leaves queued.
class TemporaryFailure : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One SQLite connection, serialised by its own mutex; WAL with
// synchronous=FULL so a commit that returned survives power loss.
class JobDatabase {
 public:
  explicit JobDatabase(const std::filesystem::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK)
      throw IngestQueueError("cannot open the ingest queue " + file.string() + ": " + sqlite3_errmsg(db_));
    sqlite3_busy_timeout(db_, 10000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec(R"(CREATE TABLE IF NOT EXISTS jobs(
      id TEXT PRIMARY KEY, source TEXT NOT NULL, idem_key TEXT, origin TEXT NOT NULL DEFAULT '',
      callback_url TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL, to_number TEXT NOT NULL,
      to_name TEXT NOT NULL, caller_number TEXT NOT NULL, caller_name TEXT NOT NULL, file_name TEXT NOT NULL,
      received_ms INTEGER NOT NULL, accepted_ms INTEGER NOT NULL, state TEXT NOT NULL,
      reason TEXT NOT NULL DEFAULT '', uid INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0,
      attempt_uid_next INTEGER NOT NULL DEFAULT 0, UNIQUE(source, idem_key)))");
    exec("CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state)");
  }
  ~JobDatabase() { sqlite3_close_v2(db_); }
  JobDatabase(const JobDatabase&) = delete;
  JobDatabase& operator=(const JobDatabase&) = delete;

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw IngestQueueError(std::string("ingest queue database: ") + msg);
    }
  }

  // A prepared statement that finalises itself.
  class Statement {
   public:
    Statement(sqlite3* db, const char* sql) : db_(db) {
      if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
        throw IngestQueueError(std::string("ingest queue database: ") + sqlite3_errmsg(db));
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& bind(int i, std::string_view v) {
      sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      return *this;
    }
    Statement& bind(int i, std::int64_t v) {
      sqlite3_bind_int64(stmt_, i, v);
      return *this;
    }
    Statement& bind_null(int i) {
      sqlite3_bind_null(stmt_, i);
      return *this;
    }
    // SQLITE_ROW, SQLITE_DONE or SQLITE_CONSTRAINT; throws on anything else.
    int step() {
      const int rc = sqlite3_step(stmt_);
      if (rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
      if ((rc & 0xff) == SQLITE_CONSTRAINT) return SQLITE_CONSTRAINT;
      throw IngestQueueError(std::string("ingest queue database: ") + sqlite3_errmsg(db_));
    }
    std::string text(int col) const {
      const auto* p = sqlite3_column_text(stmt_, col);
      return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
               : std::string();
    }
    std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

   private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
  };

  Statement prepare(const char* sql) { return Statement(db_, sql); }
  std::mutex& mutex() { return mutex_; }

 private:
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
};

constexpr const char* kStatusColumns =
    "id, state, kind, to_number, reason, uid, source, origin, callback_url, accepted_ms, finished_ms";

IngestState parse_state(std::string_view s) {
  if (s == "delivered") return IngestState::Delivered;
  if (s == "failed") return IngestState::Failed;
  return IngestState::Queued;  // queued and delivering
}

IngestStatus status_from(const JobDatabase::Statement& st) {
  IngestStatus s;
  s.id = st.text(0);
  s.state = parse_state(st.text(1));
  s.kind = st.text(2) == "fax" ? Kind::Fax : Kind::Voice;
  s.mailbox = st.text(3);
  s.reason = st.text(4);
  s.uid = static_cast<std::uint32_t>(st.integer(5));
  s.source = st.text(6);
  s.origin = st.text(7);
  s.callback_url = st.text(8);
  s.accepted_ms = st.integer(9);
  s.finished_ms = st.integer(10);
  return s;
}

void write_file_durably(const std::filesystem::path& path, std::span<const std::uint8_t> data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd) throw IoError("cannot create", path, errno);
  write_all(fd.get(), std::as_bytes(data), path);
  fsync_fd(fd.get(), path);
}

const std::vector<double> kLatencyBounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

}  // namespace

std::string_view state_name(IngestState state) noexcept {
  switch (state) {
    case IngestState::Queued: return "queued";
    case IngestState::Delivered: return "delivered";
    case IngestState::Failed: return "failed";
  }
  return "queued";
}

struct IngestQueue::Impl {
  IngestQueueConfig config;
  mailstore::MailStore& store;
  JobDatabase db;
  FinalListener listener;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::multimap<Clock::time_point, std::string> due;  // ids by the time they may run
  std::size_t in_progress = 0;
  bool stopping = false;
  std::vector<std::jthread> workers;

  std::atomic<std::uint64_t> accepted{0}, duplicates{0}, delivered{0}, failed{0};
  mutable std::mutex latency_mutex;
  std::vector<std::uint64_t> latency_buckets = std::vector<std::uint64_t>(kLatencyBounds.size());
  std::uint64_t latency_count = 0;
  double latency_sum = 0;

  Impl(IngestQueueConfig c, mailstore::MailStore& s)
      : config(std::move(c)), store(s), db((create_directories_durably(config.dir / "jobs"),
                                            create_directories_durably(config.dir / "failed"), config.dir / "queue.db")) {}

  std::filesystem::path media_path(std::string_view id) const { return config.dir / "jobs" / std::string(id); }

  SubmitResult submit(const Recording& r, const SubmitOptions& o) {
    if (!o.idempotency_key.empty()) {
      if (auto existing = find(o.source, o.idempotency_key)) {
        ++duplicates;
        return {existing->id, true};
      }
    }
    const std::string id = new_id();
    const auto media = media_path(id);
    try {
      write_file_durably(media, r.file);
      fsync_directory(media.parent_path());
    } catch (const IoError& e) {
      std::filesystem::remove(media);
      throw IngestQueueError(std::string("cannot queue the recording: ") + e.what());
    }
    int rc = 0;
    {
      std::lock_guard lock(db.mutex());
      auto st = db.prepare(
          "INSERT INTO jobs(id, source, idem_key, origin, callback_url, kind, to_number, to_name, caller_number,"
          " caller_name, file_name, received_ms, accepted_ms, state) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,'queued')");
      st.bind(1, id).bind(2, o.source);
      if (o.idempotency_key.empty()) st.bind_null(3); else st.bind(3, o.idempotency_key);
      st.bind(4, o.origin).bind(5, o.callback_url).bind(6, kind_name(r.kind)).bind(7, r.to_number).bind(8, r.to_name);
      st.bind(9, r.caller.number).bind(10, r.caller.name).bind(11, r.file_name);
      st.bind(12, static_cast<std::int64_t>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(r.received.time_since_epoch()).count()));
      st.bind(13, now_ms());
      rc = st.step();
    }
    if (rc == SQLITE_CONSTRAINT) {  // the same key raced in from another connection
      std::filesystem::remove(media);
      ++duplicates;
      return {find(o.source, o.idempotency_key).value().id, true};
    }
    ++accepted;
    log(LogLevel::Info, kLog, "queued id={} {} to={} from={} source={} size={}", id, kind_name(r.kind), r.to_number,
        r.caller.number, o.source, r.file.size());
    schedule(id, Clock::now());
    return {id, false};
  }

  std::optional<IngestStatus> query_one(const char* where, std::string_view a, std::string_view b = {}) const {
    auto& d = const_cast<JobDatabase&>(db);
    std::lock_guard lock(d.mutex());
    auto st = d.prepare((std::string("SELECT ") + kStatusColumns + " FROM jobs WHERE " + where).c_str());
    st.bind(1, a);
    if (!b.empty()) st.bind(2, b);
    if (st.step() != SQLITE_ROW) return std::nullopt;
    return status_from(st);
  }
  std::optional<IngestStatus> status(std::string_view id) const { return query_one("id = ?", id); }
  std::optional<IngestStatus> find(std::string_view source, std::string_view key) const {
    return query_one("source = ? AND idem_key = ?", source, key);
  }

  void schedule(const std::string& id, Clock::time_point when) {
    {
      std::lock_guard lock(mutex);
      due.emplace(when, id);
    }
    changed.notify_one();
  }

  void start() {
    recover_interrupted_deliveries();
    std::vector<std::string> queued;
    {
      std::lock_guard lock(db.mutex());
      auto st = db.prepare("SELECT id FROM jobs WHERE state = 'queued' ORDER BY accepted_ms");
      while (st.step() == SQLITE_ROW) queued.push_back(st.text(0));
    }
    for (const auto& id : queued) schedule(id, Clock::now());
    if (!queued.empty()) log(LogLevel::Info, kLog, "resuming {} queued job(s)", queued.size());
    {
      std::lock_guard lock(mutex);
      stopping = false;
    }
    for (unsigned i = 0; i < std::max(1u, config.workers); ++i) workers.emplace_back([this] { work(); });
  }

  void stop() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    changed.notify_all();
    workers.clear();
  }

  // A job marked 'delivering' when the process died may or may not be in
  // the mailbox: look for its X-Umstore-Ingest-Id among the messages that
  // arrived since, so it is neither lost nor delivered twice.
  void recover_interrupted_deliveries() {
    std::vector<std::tuple<std::string, std::string, std::uint32_t>> interrupted;
    {
      std::lock_guard lock(db.mutex());
      auto st = db.prepare("SELECT id, to_number, attempt_uid_next FROM jobs WHERE state = 'delivering'");
      while (st.step() == SQLITE_ROW)
        interrupted.emplace_back(st.text(0), st.text(1), static_cast<std::uint32_t>(st.integer(2)));
    }
    for (const auto& [id, number, uid_next] : interrupted) {
      const std::uint32_t uid = find_delivered_uid(id, number, uid_next);
      if (uid != 0) {
        log(LogLevel::Info, kLog, "id={} was delivered before the restart (UID {})", id, uid);
        finish(id, IngestState::Delivered, "", uid);
      } else {
        std::lock_guard lock(db.mutex());
        db.prepare("UPDATE jobs SET state = 'queued' WHERE id = ?").bind(1, id).step();
      }
    }
  }

  std::uint32_t find_delivered_uid(const std::string& id, const std::string& number, std::uint32_t uid_next) {
    const std::string marker = "\r\nX-Umstore-Ingest-Id: " + id + "\r\n";
    auto inbox = store.user(number)->open("INBOX");
    for (const auto& info : inbox->snapshot()) {
      if (info.uid < uid_next) continue;
      auto data = inbox->open_message(info.uid);
      if (!data) continue;
      const std::string_view bytes = data->bytes();
      const std::string_view head = bytes.substr(0, bytes.find("\r\n\r\n") + 2);
      if (head.find(marker) != std::string_view::npos) return info.uid;
    }
    return 0;
  }

  void work() {
    for (;;) {
      std::string id;
      {
        std::unique_lock lock(mutex);
        for (;;) {
          if (stopping) return;
          if (!due.empty() && due.begin()->first <= Clock::now()) break;
          if (due.empty()) changed.wait(lock);
          else changed.wait_until(lock, due.begin()->first);
        }
        id = due.begin()->second;
        due.erase(due.begin());
        ++in_progress;
      }
      try {
        run_job(id);
      } catch (const std::exception& e) {
        // The job stays queued on disk and resumes after a restart.
        log(LogLevel::Error, kLog, "id={}: cannot record the outcome: {}", id, e.what());
      }
      {
        std::lock_guard lock(mutex);
        --in_progress;
      }
      changed.notify_all();
    }
  }

  struct LoadedJob {
    Recording recording;
    std::string source;
    std::int64_t accepted_ms = 0;
    std::string state;
  };

  std::optional<LoadedJob> load(const std::string& id) {
    LoadedJob job;
    {
      std::lock_guard lock(db.mutex());
      auto st = db.prepare(
          "SELECT kind, to_number, to_name, caller_number, caller_name, file_name, received_ms, source, accepted_ms,"
          " state FROM jobs WHERE id = ?");
      st.bind(1, id);
      if (st.step() != SQLITE_ROW) return std::nullopt;
      auto& r = job.recording;
      r.kind = st.text(0) == "fax" ? Kind::Fax : Kind::Voice;
      r.to_number = st.text(1);
      r.to_name = st.text(2);
      r.caller.number = st.text(3);
      r.caller.name = st.text(4);
      r.file_name = st.text(5);
      r.received = Clock::time_point(std::chrono::milliseconds(st.integer(6)));
      job.source = st.text(7);
      job.accepted_ms = st.integer(8);
      job.state = st.text(9);
    }
    const std::string bytes = read_file(media_path(id));
    job.recording.file.assign(bytes.begin(), bytes.end());
    return job;
  }

  std::string trace_headers(const std::string& id, const LoadedJob& job) const {
    return "Return-Path: <>\r\nReceived: from " + job.source + " by " + config.settings.domain +
           " (umstore ingest) id " + id + "\r\n\tfor <" + job.recording.to_number + "@" + config.settings.domain +
           ">; " + format_rfc5322_date(Clock::now()) + "\r\nX-Umstore-Ingest-Id: " + id + "\r\n";
  }

  void run_job(const std::string& id) {
    std::optional<LoadedJob> job;
    try {
      job = load(id);
    } catch (const std::exception& e) {
      return finish(id, IngestState::Failed, std::string("the queued recording cannot be read: ") + e.what(), 0);
    }
    if (!job || job->state != "queued") return;
    ComposedMessage message;
    try {
      message = compose(job->recording, config.settings);
    } catch (const std::exception& e) {
      return finish(id, IngestState::Failed, e.what(), 0);
    }
    try {
      const std::uint32_t uid = deliver(id, *job, message);
      log(LogLevel::Info, kLog, "delivered id={} {} to={} uid={}", id, message.summary, message.recipient_number, uid);
      finish(id, IngestState::Delivered, "", uid);
    } catch (const mailstore::QuotaExceeded& e) {
      retry_or_fail(id, *job, std::string("mailbox ") + job->recording.to_number + " is over its quota: " + e.what());
    } catch (const IoError& e) {
      retry_or_fail(id, *job, std::string("local error while storing the message: ") + e.what());
    } catch (const std::exception& e) {
      finish(id, IngestState::Failed, e.what(), 0);
    }
  }

  std::uint32_t deliver(const std::string& id, const LoadedJob& job, const ComposedMessage& message) {
    auto inbox = store.user(message.recipient_number)->open("INBOX");
    {
      std::lock_guard lock(db.mutex());
      db.prepare("UPDATE jobs SET state = 'delivering', attempt_uid_next = ? WHERE id = ?")
          .bind(1, static_cast<std::int64_t>(inbox->status().uid_next))
          .bind(2, id)
          .step();
    }
    return store.deliver(message.recipient_number, trace_headers(id, job) + message.rfc822);
  }

  void retry_or_fail(const std::string& id, const LoadedJob& job, const std::string& reason) {
    const auto age = std::chrono::milliseconds(now_ms() - job.accepted_ms);
    if (age >= config.retry_for) return finish(id, IngestState::Failed, reason + " (gave up retrying)", 0);
    log(LogLevel::Warning, kLog, "id={} will be retried: {}", id, reason);
    {
      std::lock_guard lock(db.mutex());
      db.prepare("UPDATE jobs SET state = 'queued', reason = ? WHERE id = ?").bind(1, reason).bind(2, id).step();
    }
    schedule(id, Clock::now() + config.retry_delay);
  }

  void finish(const std::string& id, IngestState state, const std::string& reason, std::uint32_t uid) {
    const std::int64_t finished = now_ms();
    {
      std::lock_guard lock(db.mutex());
      db.prepare("UPDATE jobs SET state = ?, reason = ?, uid = ?, finished_ms = ? WHERE id = ?")
          .bind(1, state_name(state))
          .bind(2, reason)
          .bind(3, static_cast<std::int64_t>(uid))
          .bind(4, finished)
          .bind(5, id)
          .step();
    }
    std::error_code ec;
    if (state == IngestState::Delivered) {
      std::filesystem::remove(media_path(id), ec);
      ++delivered;
    } else {
      // The original is kept so an administrator can see what was refused.
      std::filesystem::rename(media_path(id), config.dir / "failed" / id, ec);
      ++failed;
      log(LogLevel::Warning, kLog, "failed id={}: {}", id, reason);
    }
    const auto final_status = status(id);
    if (!final_status) return;
    if (state == IngestState::Delivered) record_latency(final_status->finished_ms - final_status->accepted_ms);
    if (listener) {
      try {
        listener(*final_status);
      } catch (const std::exception& e) {
        log(LogLevel::Warning, kLog, "id={}: final-status listener failed: {}", id, e.what());
      }
    }
  }

  void record_latency(std::int64_t ms) {
    const double seconds = static_cast<double>(ms) / 1000.0;
    std::lock_guard lock(latency_mutex);
    for (std::size_t i = 0; i < kLatencyBounds.size(); ++i)
      if (seconds <= kLatencyBounds[i]) ++latency_buckets[i];
    ++latency_count;
    latency_sum += seconds;
  }

  IngestCounters counters() const {
    IngestCounters c;
    c.accepted = accepted;
    c.duplicates = duplicates;
    c.delivered = delivered;
    c.failed = failed;
    {
      std::lock_guard lock(mutex);
      c.depth = due.size() + in_progress;
    }
    std::lock_guard lock(latency_mutex);
    c.latency_bounds = kLatencyBounds;
    c.latency_buckets = latency_buckets;
    c.latency_count = latency_count;
    c.latency_sum = latency_sum;
    return c;
  }

  bool wait_idle(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [this] {
      return in_progress == 0 && (due.empty() || due.begin()->first > Clock::now());
    });
  }
};

IngestQueue::IngestQueue(IngestQueueConfig config, mailstore::MailStore& store)
    : impl_(std::make_unique<Impl>(std::move(config), store)) {}
IngestQueue::~IngestQueue() { impl_->stop(); }
void IngestQueue::on_final(FinalListener listener) { impl_->listener = std::move(listener); }
void IngestQueue::start() { impl_->start(); }
void IngestQueue::stop() { impl_->stop(); }
SubmitResult IngestQueue::submit(const Recording& r, const SubmitOptions& o) { return impl_->submit(r, o); }
std::optional<IngestStatus> IngestQueue::status(std::string_view id) const { return impl_->status(id); }
std::optional<IngestStatus> IngestQueue::find(std::string_view source, std::string_view key) const {
  return impl_->find(source, key);
}
IngestCounters IngestQueue::counters() const { return impl_->counters(); }
bool IngestQueue::wait_idle(std::chrono::milliseconds timeout) const { return impl_->wait_idle(timeout); }

}  // namespace umstore::ingest
