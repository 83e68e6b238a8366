#include "ingest/ingest_queue.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "common/ascii.hpp"
#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "common/rfc5322_date.hpp"
#include "mailstore/mail_store.hpp"
#include "smtp/dsn.hpp"
#include "status_json.hpp"
#include "webhook_post.hpp"

namespace umstore::ingest {
namespace {

constexpr std::string_view kLog = "ingest";
using Clock = std::chrono::system_clock;
// About one lane pass over a 60 s voicemail (bench/codecs).
constexpr auto kLeftToComposingWorker = std::chrono::milliseconds(30);

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
    // Columns added since the first version; existing databases gain them here.
    for (const char* column : {"attempts INTEGER NOT NULL DEFAULT 0", "forwarded_to TEXT NOT NULL DEFAULT ''",
                               "dsn_action TEXT NOT NULL DEFAULT ''", "dsn_status TEXT NOT NULL DEFAULT ''",
                               "dsn_diagnostic TEXT NOT NULL DEFAULT ''", "dsn_recipient TEXT NOT NULL DEFAULT ''",
                               "dsn_remote_mta TEXT NOT NULL DEFAULT ''", "note TEXT NOT NULL DEFAULT ''"})
      add_column_if_missing(column);
    // One row per webhook owed: written in the same transaction as the
    // status it reports, so a crash cannot lose it.
    exec(R"(CREATE TABLE IF NOT EXISTS webhooks(
      seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, url TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
      last_error TEXT NOT NULL DEFAULT ''))");
    exec("CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks(state, next_ms)");
  }

  void add_column_if_missing(std::string_view definition) {
    const std::string name(definition.substr(0, definition.find(' ')));
    auto st = prepare("SELECT 1 FROM pragma_table_info('jobs') WHERE name = ?");
    st.bind(1, name);
    if (st.step() == SQLITE_ROW) return;
    exec(("ALTER TABLE jobs ADD COLUMN " + std::string(definition)).c_str());
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

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed. Caller holds db.mutex().
class Transaction {
 public:
  explicit Transaction(JobDatabase& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!committed_) {
      try {
        db_.exec("ROLLBACK");
      } catch (const std::exception&) {
        // Nothing more to undo.
      }
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.exec("COMMIT");
    committed_ = true;
  }

 private:
  JobDatabase& db_;
  bool committed_ = false;
};

constexpr const char* kStatusColumns =
    "id, state, kind, to_number, reason, uid, source, origin, callback_url, accepted_ms, finished_ms, forwarded_to,"
    " dsn_action, dsn_status, dsn_diagnostic, dsn_recipient, dsn_remote_mta";

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
  s.forwarded_to = st.text(11);
  s.dsn.action = st.text(12);
  s.dsn.status = st.text(13);
  s.dsn.diagnostic_code = st.text(14);
  s.dsn.final_recipient = st.text(15);
  s.dsn.remote_mta = st.text(16);
  return s;
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

const std::vector<double> kLatencyBounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

}  // namespace

std::optional<std::pair<std::string, DeliveryReport>> parse_delivery_report(std::string_view message) {
  const auto parsed = smtp::parse_delivery_status(message);
  if (!parsed || parsed->recipients.empty()) return std::nullopt;
  auto value = [](const std::map<std::string, std::string>& fields, const char* name) {
    const auto it = fields.find(name);
    return it == fields.end() ? std::string() : it->second;
  };
  const std::string envid = value(parsed->message_fields, "original-envelope-id");
  const auto& first = parsed->recipients.front();
  DeliveryReport report{ascii_lower(value(first, "action")), value(first, "status"), value(first, "diagnostic-code"),
                        value(first, "final-recipient"), value(first, "remote-mta")};
  if (envid.empty() || report.action.empty()) return std::nullopt;
  return std::pair{envid, report};
}

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

  struct LoadedJob {
    Recording recording;
    std::string source;
    std::int64_t accepted_ms = 0;
    std::string state;
    std::size_t attempts = 0;
  };

  struct ComposedJob {
    std::string id;
    LoadedJob job;
    ComposeOutcome outcome;
  };

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::multimap<Clock::time_point, std::string> due;  // ids by the time they may run
  std::size_t in_progress = 0;  // taken by a worker, until stored or failed
  std::size_t busy_workers = 0;
  bool stopping = false;
  std::vector<std::jthread> workers;

  // Workers compose (CPU) and hand each message to the storers, which write
  // it to the mailbox and record the outcome (disk writes, fsyncs), so a
  // worker composes the next recordings while the last ones are stored, and
  // a batch's messages are stored side by side rather than one after the
  // other. Job states on disk are the same either way: a composed message
  // not yet stored when the process dies is composed again after a restart.
  std::deque<ComposedJob> to_store;  // under `mutex`
  std::condition_variable store_changed;
  bool storers_stopping = false;
  std::vector<std::jthread> storers;

  std::atomic<std::uint64_t> accepted{0}, duplicates{0}, delivered{0}, failed{0};
  std::atomic<std::uint64_t> webhooks_sent{0}, webhooks_failed{0};
  // The webhook sender: one thread for all of them, woken when one is owed.
  std::condition_variable webhook_wakeup;
  bool webhook_woken = false;
  std::jthread webhook_thread;
  mutable std::mutex latency_mutex;
  std::vector<std::uint64_t> latency_buckets = std::vector<std::uint64_t>(kLatencyBounds.size());
  std::uint64_t latency_count = 0;
  double latency_sum = 0;

  Impl(IngestQueueConfig c, mailstore::MailStore& s)
      : config(std::move(c)), store(s), db((create_directories_durably(config.dir / "jobs"),
                                            create_directories_durably(config.dir / "failed"), config.dir / "queue.db")) {}

  std::filesystem::path media_path(std::string_view id) const { return config.dir / "jobs" / std::string(id); }

  SubmitResult submit(const Recording& r, const SubmitOptions& o) {
    return submit_with(r, o, [&r](const std::filesystem::path& media) {
      write_file_durably(media, r.file);
      return std::uintmax_t{r.file.size()};
    });
  }

  SubmitResult submit_file(const Recording& r, const std::filesystem::path& file, const SubmitOptions& o) {
    return submit_with(r, o, [&file](const std::filesystem::path& media) { return link_or_copy_durably(file, media); });
  }

  // `store_media` puts the recording's bytes at the path it is given, durably,
  // and returns their size.
  template <typename StoreMedia>
  SubmitResult submit_with(const Recording& r, const SubmitOptions& o, StoreMedia&& store_media) {
    if (!o.idempotency_key.empty()) {
      if (auto existing = find(o.source, o.idempotency_key)) {
        ++duplicates;
        return {existing->id, true};
      }
    }
    const std::string id = new_id();
    const auto media = media_path(id);
    std::uintmax_t size = 0;
    try {
      size = store_media(media);
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
          " caller_name, file_name, received_ms, accepted_ms, note, state) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,'queued')");
      st.bind(1, id).bind(2, o.source);
      if (o.idempotency_key.empty()) st.bind_null(3); else st.bind(3, o.idempotency_key);
      st.bind(4, o.origin).bind(5, o.callback_url).bind(6, kind_name(r.kind)).bind(7, r.to_number).bind(8, r.to_name);
      st.bind(9, r.caller.number).bind(10, r.caller.name).bind(11, r.file_name);
      st.bind(12, static_cast<std::int64_t>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(r.received.time_since_epoch()).count()));
      st.bind(13, now_ms());
      st.bind(14, r.note);
      rc = st.step();
    }
    if (rc == SQLITE_CONSTRAINT) {  // the same key raced in from another connection
      std::filesystem::remove(media);
      ++duplicates;
      return {find(o.source, o.idempotency_key).value().id, true};
    }
    ++accepted;
    log(LogLevel::Info, kLog, "queued id={} {} to={} from={} source={} size={}", id, kind_name(r.kind), r.to_number,
        r.caller.number, o.source, size);
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
      storers_stopping = false;
    }
    for (unsigned i = 0; i < std::max(1u, config.workers); ++i) workers.emplace_back([this] { work(); });
    for (unsigned i = 0; i < 2 * std::max(1u, config.workers); ++i) storers.emplace_back([this] { store_composed(); });
    webhook_thread = std::jthread([this] { send_webhooks(); });
  }

  void stop() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    changed.notify_all();
    webhook_wakeup.notify_all();
    workers.clear();
    // What the workers composed is stored before the storers stop.
    {
      std::lock_guard lock(mutex);
      storers_stopping = true;
    }
    store_changed.notify_all();
    storers.clear();
    if (webhook_thread.joinable()) webhook_thread.join();
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
        finish_recovered(id, number, uid);
      } else {
        std::lock_guard lock(db.mutex());
        db.prepare("UPDATE jobs SET state = 'queued' WHERE id = ?").bind(1, id).step();
      }
    }
  }

  // A job found in the mailbox after a crash may still owe its forwarded
  // copy: it is made again from the recording.
  void finish_recovered(const std::string& id, const std::string& number, std::uint32_t uid) {
    try {
      const auto job = load(id);
      const std::string forward_to = job ? forward_address(number) : std::string();
      if (!forward_to.empty())
        return finish_delivered(id, *job, compose(job->recording, config.settings).rfc822, uid, forward_to);
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "id={}: cannot remake the forwarded copy: {}", id, e.what());
    }
    finish(id, IngestState::Delivered, "", uid);
  }

  std::uint32_t find_delivered_uid(const std::string& id, const std::string& number, std::uint32_t uid_next) {
    const std::string marker = "\r\nX-Umstore-Ingest-Id: " + id + "\r\n";
    // uid_next is the target folder's; in the others the marker cannot be.
    for (const std::string& name : candidate_folders(number)) {
      auto folder = store.user(number)->open(name);
      for (const auto& info : folder->snapshot()) {
        if (info.uid < uid_next) continue;
        auto data = folder->open_message(info.uid);
        if (!data) continue;
        const std::string_view bytes = data->bytes();
        const std::string_view head = bytes.substr(0, bytes.find("\r\n\r\n") + 2);
        if (head.find(marker) != std::string_view::npos) return info.uid;
      }
    }
    return 0;
  }

  delivery::MailboxProfile profile_of(const std::string& number) const {
    return config.mailbox_profiles ? config.mailbox_profiles(number) : delivery::MailboxProfile{};
  }

  // Where deliver() may have put a message for `number` (filing by kind).
  std::vector<std::string> candidate_folders(const std::string& number) {
    const delivery::MailboxProfile profile = profile_of(number);
    if (!profile.file_by_kind) return {"INBOX"};
    std::vector<std::string> names{"INBOX"};
    for (const auto& entry : store.user(number)->list())
      if (entry.name == profile.voice_folder || entry.name == profile.fax_folder) names.push_back(entry.name);
    return names;
  }

  void work() {
    for (;;) {
      std::vector<std::string> ids;
      {
        std::unique_lock lock(mutex);
        for (;;) {
          if (stopping) return;
          if (!due.empty() && due.begin()->first <= Clock::now()) {
            // A lone due job is left for a while to the worker already
            // composing, which takes it with whatever else comes meanwhile
            // into one lane pass: at moderate rates that costs less CPU
            // than two jobs composed alone side by side, and so less
            // queueing. Not for longer than a pass takes, should that
            // worker be busy with something long (a large fax).
            const auto left_until = due.begin()->first + kLeftToComposingWorker;
            if (busy_workers == 0 || ready_jobs(2) >= 2 || Clock::now() >= left_until) break;
            changed.wait_until(lock, left_until);
            continue;
          }
          if (due.empty()) changed.wait(lock);
          else changed.wait_until(lock, due.begin()->first);
        }
        ids = take_due_batch();
        in_progress += ids.size();
        ++busy_workers;
      }
      const std::size_t handed_over = run_batch(ids);
      {
        std::lock_guard lock(mutex);
        in_progress -= ids.size() - handed_over;
        --busy_workers;
      }
      changed.notify_all();
    }
  }

  // The storers' loop: until stopped with nothing left to store.
  void store_composed() {
    for (;;) {
      std::optional<ComposedJob> next;
      {
        std::unique_lock lock(mutex);
        store_changed.wait(lock, [this] { return !to_store.empty() || storers_stopping; });
        if (to_store.empty()) return;
        next.emplace(std::move(to_store.front()));
        to_store.pop_front();
      }
      store_changed.notify_all();  // room for a waiting worker
      auto& [id, job, outcome] = *next;
      with_outcome_errors_logged(id, [&] {
        if (!outcome.message) return finish(id, IngestState::Failed, outcome.error, 0);
        deliver_and_finish(id, job, *outcome.message);
      });
      next.reset();
      {
        std::lock_guard lock(mutex);
        --in_progress;
      }
      changed.notify_all();
    }
  }

  // Waits while the storers are this far behind, which bounds the composed
  // messages held in memory.
  void hand_to_storers(ComposedJob&& composed) {
    const std::size_t limit = std::max<std::size_t>(2, std::size_t{config.batch_size} * std::max(1u, config.workers));
    {
      std::unique_lock lock(mutex);
      store_changed.wait(lock, [&] { return to_store.size() < limit; });
      to_store.push_back(std::move(composed));
    }
    store_changed.notify_all();
  }

  // Under `mutex`: how many jobs are due now, counting up to at_most.
  std::size_t ready_jobs(std::size_t at_most) const {
    const auto now = Clock::now();
    std::size_t ready = 0;
    for (auto it = due.begin(); it != due.end() && it->first <= now && ready < at_most; ++it) ++ready;
    return ready;
  }

  // Under `mutex`: the due jobs this worker runs now, at most batch_size,
  // sharing them with the idle workers so a few jobs still run in parallel.
  // A lane pass (8 or 16 lanes) costs about the same however full it is,
  // less than two voicemails encoded one at a time, so two or more due
  // jobs share one.
  std::vector<std::string> take_due_batch() {
    const std::size_t limit = std::max(1u, config.batch_size);
    const std::size_t smallest_batch = std::min<std::size_t>(2, limit);
    const std::size_t all = std::max(1u, config.workers);
    const std::size_t idle = std::max<std::size_t>(1, all - std::min(all, busy_workers));
    const std::size_t ready = ready_jobs(limit * idle);
    const auto now = Clock::now();
    std::size_t share = std::min(limit, std::max<std::size_t>(1, (ready + idle - 1) / idle));
    if (share < smallest_batch) share = 1;
    std::vector<std::string> ids;
    while (ids.size() < share && !due.empty() && due.begin()->first <= now) {
      ids.push_back(std::move(due.begin()->second));
      due.erase(due.begin());
    }
    return ids;
  }

  // Side by side; should the batch as a whole fail (memory), one at a time,
  // so every job still gets its own outcome.
  std::vector<ComposeOutcome> compose_each(std::span<const Recording* const> recordings) const {
    try {
      return compose_batch(recordings, config.settings);
    } catch (const std::exception& e) {
      log(LogLevel::Warning, kLog, "composing {} recordings together failed ({}); composing them one by one",
          recordings.size(), e.what());
    }
    std::vector<ComposeOutcome> outcomes(recordings.size());
    for (std::size_t i = 0; i < recordings.size(); ++i) {
      try {
        outcomes[i].message = compose(*recordings[i], config.settings);
      } catch (const std::exception& e) {
        outcomes[i].error = e.what();
      }
    }
    return outcomes;
  }

  // A job that cannot record its outcome stays queued on disk and resumes after a restart.
  template <typename Step>
  void with_outcome_errors_logged(const std::string& id, Step&& step) {
    try {
      step();
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "id={}: cannot record the outcome: {}", id, e.what());
    }
  }

  // Every job keeps its own outcome: one that cannot be read or composed
  // fails alone, the others are stored as if run alone. Returns how many
  // jobs went to the storers (the others are finished here).
  std::size_t run_batch(const std::vector<std::string>& ids) {
    std::vector<std::pair<std::string, LoadedJob>> jobs;
    for (const auto& id : ids) {
      with_outcome_errors_logged(id, [&] {
        std::optional<LoadedJob> job;
        try {
          job = load(id);
        } catch (const std::exception& e) {
          return finish(id, IngestState::Failed, std::string("the queued recording cannot be read: ") + e.what(), 0);
        }
        if (job && job->state == "queued") jobs.emplace_back(id, std::move(*job));
      });
    }
    std::vector<const Recording*> recordings;
    for (const auto& [id, job] : jobs) recordings.push_back(&job.recording);
    std::vector<ComposeOutcome> composed = compose_each(recordings);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      auto& [id, job] = jobs[i];
      job.recording.file = {};  // no longer needed once composed
      hand_to_storers({std::move(id), std::move(job), std::move(composed[i])});
    }
    return jobs.size();
  }

  std::optional<LoadedJob> load(const std::string& id) {
    LoadedJob job;
    {
      std::lock_guard lock(db.mutex());
      auto st = db.prepare(
          "SELECT kind, to_number, to_name, caller_number, caller_name, file_name, received_ms, source, accepted_ms,"
          " state, attempts, note FROM jobs WHERE id = ?");
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
      job.attempts = static_cast<std::size_t>(st.integer(10));
      r.note = st.text(11);
    }
    job.recording.file = read_file_bytes(media_path(id));
    return job;
  }

  std::string trace_headers(const std::string& id, const LoadedJob& job) const {
    return "Received: from " + job.source + " by " + config.settings.domain +
           " (umstore ingest) id " + id + "\r\n\tfor <" + job.recording.to_number + "@" + config.settings.domain +
           ">; " + format_rfc5322_date(Clock::now()) + "\r\nX-Umstore-Ingest-Id: " + id + "\r\n";
  }

  void deliver_and_finish(const std::string& id, const LoadedJob& job, ComposedMessage& message) {
    try {
      // The forwarded copy is made from the composed message; without one,
      // the composed message itself becomes the stored form (no copy).
      const std::string forward_to = forward_address(message.recipient_number);
      const std::string composed = forward_to.empty() ? std::string() : message.rfc822;
      const std::uint32_t uid = deliver(id, job, std::move(message.rfc822), message.recipient_number);
      log(LogLevel::Info, kLog, "delivered id={} {} to={} uid={}", id, message.summary, message.recipient_number, uid);
      finish_delivered(id, job, composed, uid, forward_to);
    } catch (const mailstore::QuotaExceeded& e) {
      retry_or_fail(id, job, std::string("mailbox ") + job.recording.to_number + " is over its quota: " + e.what());
    } catch (const mailstore::TemporaryFailure& e) {
      retry_or_fail(id, job, std::string("local error while storing the message: ") + e.what());
    } catch (const IoError& e) {
      retry_or_fail(id, job, std::string("local error while storing the message: ") + e.what());
    } catch (const std::exception& e) {
      finish(id, IngestState::Failed, e.what(), 0);
    }
  }

  std::uint32_t deliver(const std::string& id, const LoadedJob& job, std::string composed, const std::string& number) {
    // The mailbox's playable form (WAV, MP3, none), fax PDF and folder.
    const delivery::MailboxForm form = delivery::form_for_mailbox(std::move(composed), profile_of(number));
    for (const auto& note : form.notes) log(LogLevel::Info, kLog, "id={} to={}: {}", id, number, note);
    std::uint32_t uid_next = 1;  // a folder the store creates on delivery starts at UID 1
    try {
      uid_next = store.user(number)->open(form.folder)->status().uid_next;
    } catch (const mailstore::FolderNotFound&) {
    }
    {
      std::lock_guard lock(db.mutex());
      db.prepare("UPDATE jobs SET state = 'delivering', attempt_uid_next = ? WHERE id = ?")
          .bind(1, static_cast<std::int64_t>(uid_next))
          .bind(2, id)
          .step();
    }
    std::string stored = "Return-Path: <>\r\n" + trace_headers(id, job);
    stored.reserve(stored.size() + form.message.size());
    stored += form.message;
    return store.deliver(number, stored, form.folder);
  }

  // The copy for the mailbox's email address is queued before the job is
  // recorded delivered, and forward() is idempotent per job, so a crash in
  // between (recovered below) neither loses nor doubles it.
  void finish_delivered(const std::string& id, const LoadedJob& job, const std::string& rfc822, std::uint32_t uid,
                        const std::string& forward_to) {
    if (!forward_to.empty()) forward(id, job, rfc822, forward_to);
    finish(id, IngestState::Delivered, "", uid, forward_to);
  }

  std::string forward_address(const std::string& number) const {
    if (!config.forward_address || !config.forward) return {};
    try {
      return config.forward_address(number);
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "cannot look up the forwarding address of {}: {}", number, e.what());
      return {};
    }
  }

  // A copy for the mailbox's email address. One that cannot be queued is
  // recorded as the job's reason, not retried: the message is in the mailbox.
  void forward(const std::string& id, const LoadedJob& job, const std::string& rfc822, const std::string& to) {
    try {
      config.forward(ForwardRequest{id, to, trace_headers(id, job) + rfc822});
      log(LogLevel::Info, kLog, "forwarding id={} to={} (ENVID {})", id, to, id);
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "id={}: cannot queue the copy for {}: {}", id, to, e.what());
      std::lock_guard lock(db.mutex());
      db.prepare("UPDATE jobs SET reason = ? WHERE id = ?")
          .bind(1, "the copy for " + to + " could not be queued: " + e.what())
          .bind(2, id)
          .step();
    }
  }

  void retry_or_fail(const std::string& id, const LoadedJob& job, const std::string& reason) {
    const auto age = std::chrono::milliseconds(now_ms() - job.accepted_ms);
    if (age >= config.max_age) return finish(id, IngestState::Failed, reason + " (gave up retrying)", 0);
    const auto& intervals = config.retry_intervals;
    const auto delay = intervals.empty() ? std::chrono::milliseconds(std::chrono::seconds(60))
                                         : intervals[std::min<std::size_t>(job.attempts, intervals.size() - 1)];
    log(LogLevel::Warning, kLog, "id={} will be retried in {} ms: {}", id, delay.count(), reason);
    {
      std::lock_guard lock(db.mutex());
      db.prepare("UPDATE jobs SET state = 'queued', reason = ?, attempts = attempts + 1 WHERE id = ?")
          .bind(1, reason)
          .bind(2, id)
          .step();
    }
    schedule(id, Clock::now() + delay);
  }

  void finish(const std::string& id, IngestState state, const std::string& reason, std::uint32_t uid,
              const std::string& forwarded_to = {}) {
    const std::int64_t finished = now_ms();
    {
      std::lock_guard lock(db.mutex());
      Transaction transaction(db);
      db.prepare("UPDATE jobs SET state = ?, reason = ?, uid = ?, finished_ms = ?, forwarded_to = ? WHERE id = ?")
          .bind(1, state_name(state))
          .bind(2, reason)
          .bind(3, static_cast<std::int64_t>(uid))
          .bind(4, finished)
          .bind(5, forwarded_to)
          .bind(6, id)
          .step();
      owe_webhook(id);
      transaction.commit();
    }
    wake_webhooks();
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

  // Under db.mutex(), inside the transaction that changed the status.
  void owe_webhook(const std::string& id) {
    db.prepare(
          "INSERT INTO webhooks(job_id, url, next_ms) SELECT id, callback_url, ? FROM jobs"
          " WHERE id = ? AND callback_url != ''")
        .bind(1, now_ms())
        .bind(2, id)
        .step();
  }

  void wake_webhooks() {
    {
      std::lock_guard lock(mutex);
      webhook_woken = true;
    }
    webhook_wakeup.notify_all();
  }

  struct OwedWebhook {
    std::int64_t seq = 0;
    std::string job_id;
    std::string url;
    unsigned attempts = 0;
    std::int64_t next_ms = 0;
  };

  std::optional<OwedWebhook> next_webhook() {
    std::lock_guard lock(db.mutex());
    auto st = db.prepare(
        "SELECT seq, job_id, url, attempts, next_ms FROM webhooks WHERE state = 'pending' ORDER BY next_ms LIMIT 1");
    if (st.step() != SQLITE_ROW) return std::nullopt;
    return OwedWebhook{st.integer(0), st.text(1), st.text(2), static_cast<unsigned>(st.integer(3)), st.integer(4)};
  }

  // One thread sends every webhook in due order; a slow or dead receiver
  // delays only other webhooks (bounded by webhook_timeout), never ingest.
  void send_webhooks() {
    for (;;) {
      std::optional<OwedWebhook> owed;
      try {
        owed = next_webhook();
      } catch (const std::exception& e) {
        log(LogLevel::Error, kLog, "webhooks: {}", e.what());
      }
      {
        std::unique_lock lock(mutex);
        if (stopping) return;
        const auto now = now_ms();
        if (!owed || owed->next_ms > now) {
          const auto wait = owed ? std::chrono::milliseconds(owed->next_ms - now) : std::chrono::milliseconds(60000);
          webhook_wakeup.wait_for(lock, wait, [this] { return stopping || webhook_woken; });
          webhook_woken = false;
          continue;
        }
      }
      try {
        send_webhook(*owed);
      } catch (const std::exception& e) {
        log(LogLevel::Error, kLog, "webhook for id={}: {}", owed->job_id, e.what());
      }
    }
  }

  std::chrono::milliseconds webhook_backoff(unsigned attempts) const {
    auto delay = config.webhook_retry_base;
    for (unsigned i = 1; i < attempts && delay < config.webhook_retry_max; ++i) delay *= 2;
    return std::min(delay, config.webhook_retry_max);
  }

  void send_webhook(const OwedWebhook& owed) {
    const auto current = status(owed.job_id);
    const std::string body = current ? status_json(*current).dump() : nlohmann::json{{"id", owed.job_id}}.dump();
    const auto error = post_json(owed.url, body, {config.webhook_timeout, config.webhook_ca_file});
    const unsigned attempts = owed.attempts + 1;
    std::string state = "sent";
    std::int64_t next = 0;
    if (error) {
      ++webhooks_failed;
      if (attempts >= config.webhook_attempts) {
        state = "gave_up";
        log(LogLevel::Warning, kLog, "webhook for id={} to {} given up after {} attempts: {}", owed.job_id, owed.url,
            attempts, *error);
      } else {
        state = "pending";
        next = now_ms() + webhook_backoff(attempts).count();
        log(LogLevel::Info, kLog, "webhook for id={} to {} failed (attempt {}), retrying: {}", owed.job_id, owed.url,
            attempts, *error);
      }
    } else {
      ++webhooks_sent;
      log(LogLevel::Info, kLog, "webhook for id={} sent to {}", owed.job_id, owed.url);
    }
    std::lock_guard lock(db.mutex());
    db.prepare("UPDATE webhooks SET attempts = ?, state = ?, next_ms = ?, last_error = ? WHERE seq = ?")
        .bind(1, static_cast<std::int64_t>(attempts))
        .bind(2, state)
        .bind(3, next)
        .bind(4, error.value_or(""))
        .bind(5, owed.seq)
        .step();
  }

  bool apply_report(std::string_view message) {
    const auto report = parse_delivery_report(message);
    if (!report) return false;
    const auto& [envid, fields] = *report;
    const auto job = status(envid);
    if (!job) return false;
    const bool failure = ascii_lower(fields.action) == "failed";
    {
      std::lock_guard lock(db.mutex());
      Transaction transaction(db);
      auto st = db.prepare(
          "UPDATE jobs SET dsn_action = ?, dsn_status = ?, dsn_diagnostic = ?, dsn_recipient = ?, dsn_remote_mta = ?,"
          " state = CASE WHEN ? THEN 'failed' ELSE state END, reason = CASE WHEN ? THEN ? ELSE reason END"
          " WHERE id = ?");
      const std::string reason = "forwarding to " + (job->forwarded_to.empty() ? fields.final_recipient : job->forwarded_to) +
                                 " failed: " + (fields.diagnostic_code.empty() ? fields.status : fields.diagnostic_code);
      st.bind(1, fields.action).bind(2, fields.status).bind(3, fields.diagnostic_code).bind(4, fields.final_recipient);
      st.bind(5, fields.remote_mta).bind(6, std::int64_t{failure}).bind(7, std::int64_t{failure}).bind(8, reason);
      st.bind(9, envid).step();
      // A delay is news but not an outcome; the gateway hears of outcomes.
      if (ascii_lower(fields.action) != "delayed") owe_webhook(envid);
      transaction.commit();
    }
    log(LogLevel::Info, kLog, "DSN for id={}: action={} status={} {}", envid, fields.action, fields.status,
        fields.diagnostic_code);
    wake_webhooks();
    return true;
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
    c.webhooks_sent = webhooks_sent;
    c.webhooks_failed = webhooks_failed;
    {
      auto& d = const_cast<JobDatabase&>(db);
      std::lock_guard lock(d.mutex());
      auto st = d.prepare("SELECT count(*) FROM webhooks WHERE state = 'pending'");
      if (st.step() == SQLITE_ROW) c.webhooks_pending = static_cast<std::uint64_t>(st.integer(0));
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
SubmitResult IngestQueue::submit_file(const Recording& r, const std::filesystem::path& file, const SubmitOptions& o) {
  return impl_->submit_file(r, file, o);
}
std::optional<IngestStatus> IngestQueue::status(std::string_view id) const { return impl_->status(id); }
std::optional<IngestStatus> IngestQueue::find(std::string_view source, std::string_view key) const {
  return impl_->find(source, key);
}
IngestCounters IngestQueue::counters() const { return impl_->counters(); }
bool IngestQueue::apply_report(std::string_view message) { return impl_->apply_report(message); }
bool IngestQueue::wait_idle(std::chrono::milliseconds timeout) const { return impl_->wait_idle(timeout); }

}  // namespace umstore::ingest
