#include "pg_job_store.hpp"

#include <unistd.h>

#include "common/durable_file.hpp"

namespace umstore::ingest {
namespace {

using pgsql::Connection;
using pgsql::IntParam;
using pgsql::Param;
using pgsql::PgError;
using pgsql::Result;
using pgsql::Transaction;

// IF NOT EXISTS throughout: every node runs this at start.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ingest_jobs (
  id             text PRIMARY KEY,
  source         text NOT NULL,
  idem_key       text,
  origin         text NOT NULL DEFAULT '',
  callback_url   text NOT NULL DEFAULT '',
  kind           text NOT NULL,
  to_number      text NOT NULL,
  to_name        text NOT NULL,
  caller_number  text NOT NULL,
  caller_name    text NOT NULL,
  file_name      text NOT NULL,
  note           text NOT NULL DEFAULT '',
  received_ms    bigint NOT NULL,
  accepted_ms    bigint NOT NULL,
  state          text NOT NULL,              -- queued, delivering, delivered, failed
  reason         text NOT NULL DEFAULT '',
  uid            bigint NOT NULL DEFAULT 0,
  finished_ms    bigint NOT NULL DEFAULT 0,
  attempts       integer NOT NULL DEFAULT 0,
  next_ms        bigint NOT NULL DEFAULT 0,  -- due from (database clock)
  lease_owner    text NOT NULL DEFAULT '',   -- the node running it
  lease_until    bigint NOT NULL DEFAULT 0,  -- another node may take it after this
  forwarded_to   text NOT NULL DEFAULT '',
  dsn_action     text NOT NULL DEFAULT '',
  dsn_status     text NOT NULL DEFAULT '',
  dsn_diagnostic text NOT NULL DEFAULT '',
  dsn_recipient  text NOT NULL DEFAULT '',
  dsn_remote_mta text NOT NULL DEFAULT '',
  recording      bytea,                      -- NULL once delivered
  UNIQUE (source, idem_key)
);
-- A recording is audio or a fax image, which compression barely shrinks,
-- and pglz (the default) spent about 40 ms of CPU on a minute of 8 kHz
-- WAV: kept out of line, uncompressed. Checked first, so a node starting
-- does not lock the table while the others work.
DO $$
BEGIN
  IF (SELECT attstorage FROM pg_attribute WHERE attrelid = 'ingest_jobs'::regclass AND attname = 'recording') <> 'e' THEN
    ALTER TABLE ingest_jobs ALTER COLUMN recording SET STORAGE EXTERNAL;
  END IF;
END
$$;
CREATE INDEX IF NOT EXISTS ingest_jobs_due ON ingest_jobs (next_ms) WHERE state IN ('queued', 'delivering');
CREATE INDEX IF NOT EXISTS ingest_jobs_owner ON ingest_jobs (lease_owner) WHERE state IN ('queued', 'delivering');
CREATE TABLE IF NOT EXISTS ingest_webhooks (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id      text NOT NULL,
  url         text NOT NULL,
  attempts    integer NOT NULL DEFAULT 0,
  next_ms     bigint NOT NULL,
  state       text NOT NULL DEFAULT 'pending',  -- pending, sent, gave_up
  last_error  text NOT NULL DEFAULT '',
  lease_owner text NOT NULL DEFAULT '',
  lease_until bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ingest_webhooks_pending ON ingest_webhooks (next_ms) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS cluster_nodes (
  node_id      text PRIMARY KEY,
  host         text NOT NULL,
  pid          integer NOT NULL,
  started_ms   bigint NOT NULL,
  heartbeat_ms bigint NOT NULL
);
)sql";
// Any constant, apart from the mail schema's: nodes starting at once take turns.
constexpr std::string_view kSchemaLock = "SELECT pg_advisory_xact_lock(7220916)";

constexpr std::string_view kStatusColumns =
    "id, state, kind, to_number, reason, uid, source, origin, callback_url, accepted_ms, finished_ms,"
    " forwarded_to, dsn_action, dsn_status, dsn_diagnostic, dsn_recipient, dsn_remote_mta";

IngestQueueError database_error(const std::exception& e) {
  return IngestQueueError(std::string("ingest queue database: ") + e.what());
}

Kind parse_kind(std::string_view s) { return s == "fax" ? Kind::Fax : Kind::Voice; }

IngestState parse_state(std::string_view s) {
  if (s == "delivered") return IngestState::Delivered;
  if (s == "failed") return IngestState::Failed;
  return IngestState::Queued;  // queued and delivering
}

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string("unknown");
}

std::string sql(std::string_view text) { return pgsql::with_database_clock(text); }

// Row `i` of a query of kStatusColumns.
IngestStatus status_row(const Result& r, int i) {
  IngestStatus s;
  s.id = r.text(i, 0);
  s.state = parse_state(r.view(i, 1));
  s.kind = parse_kind(r.view(i, 2));
  s.mailbox = r.text(i, 3);
  s.reason = r.text(i, 4);
  s.uid = static_cast<std::uint32_t>(r.integer(i, 5));
  s.source = r.text(i, 6);
  s.origin = r.text(i, 7);
  s.callback_url = r.text(i, 8);
  s.accepted_ms = r.integer(i, 9);
  s.finished_ms = r.integer(i, 10);
  s.forwarded_to = r.text(i, 11);
  s.dsn.action = r.text(i, 12);
  s.dsn.status = r.text(i, 13);
  s.dsn.diagnostic_code = r.text(i, 14);
  s.dsn.final_recipient = r.text(i, 15);
  s.dsn.remote_mta = r.text(i, 16);
  return s;
}

}  // namespace

template <typename Work>
auto PgJobStore::run(Work&& work) {
  try {
    auto c = pool_.lease();
    return work(*c);
  } catch (const PgError& e) {
    if (e.connection_lost()) throw JobStoreUnavailable(std::string("ingest queue database: ") + e.what());
    throw database_error(e);
  }
}

PgJobStore::PgJobStore(const std::string& conninfo, std::size_t pool_size, std::string node_id,
                       std::chrono::milliseconds lease)
    : pool_(conninfo, pool_size),
      node_id_(std::move(node_id)),
      lease_ms_(std::to_string(lease.count())),
      started_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()) {
  run([](Connection& c) {
    Transaction t(c);
    c.exec(kSchemaLock);
    c.exec(kSchema);
    t.commit();
  });
  heartbeat();
}

std::optional<std::uintmax_t> PgJobStore::insert(std::string_view id, const Recording& r, const SubmitOptions& o,
                                                 std::int64_t accepted_ms, const JobMedia& media) {
  std::vector<std::uint8_t> read;
  std::span<const std::uint8_t> bytes;
  if (const auto* given = std::get_if<std::span<const std::uint8_t>>(&media)) {
    bytes = *given;
  } else {
    try {
      read = read_file_bytes(std::get<std::filesystem::path>(media));
    } catch (const IoError& e) {
      throw IngestQueueError(std::string("cannot queue the recording: ") + e.what());
    }
    bytes = read;
  }
  const auto received = std::chrono::duration_cast<std::chrono::milliseconds>(r.received.time_since_epoch()).count();
  const std::string_view data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const auto inserted = run([&](Connection& c) {
    return c
        .exec(sql("INSERT INTO ingest_jobs (id, source, idem_key, origin, callback_url, kind, to_number, to_name,"
                  " caller_number, caller_name, file_name, received_ms, accepted_ms, note, state, next_ms,"
                  " lease_owner, lease_until, recording)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'queued', {now}, $15,"
                  " {now} + $16, $17) ON CONFLICT (source, idem_key) DO NOTHING"),
              {Param::text(id), Param::text(o.source),
               o.idempotency_key.empty() ? Param::null() : Param::text(o.idempotency_key), Param::text(o.origin),
               Param::text(o.callback_url), Param::text(kind_name(r.kind)), Param::text(r.to_number),
               Param::text(r.to_name), Param::text(r.caller.number), Param::text(r.caller.name),
               Param::text(r.file_name), IntParam(received), IntParam(accepted_ms), Param::text(r.note),
               Param::text(node_id_), Param::text(lease_ms_), Param::bytes(data)})
        .affected();
  });
  if (inserted == 0) return std::nullopt;
  hold(id, bytes);
  return bytes.size();
}

void PgJobStore::hold(std::string_view id, std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kHeldBytes) return;
  std::lock_guard lock(held_mutex_);
  while (held_bytes_ + bytes.size() > kHeldBytes && !held_order_.empty()) {
    const auto oldest = held_order_.begin();
    const auto it = held_.find(oldest->second);
    held_bytes_ -= it->second.bytes.size();
    held_.erase(it);
    held_order_.erase(oldest);
  }
  const std::uint64_t seq = ++held_seq_;
  if (!held_.emplace(std::string(id), Held{seq, {bytes.begin(), bytes.end()}}).second) return;
  held_order_.emplace(seq, std::string(id));
  held_bytes_ += bytes.size();
}

std::optional<std::vector<std::uint8_t>> PgJobStore::take_held(std::string_view id) {
  std::lock_guard lock(held_mutex_);
  const auto it = held_.find(id);
  if (it == held_.end()) return std::nullopt;
  std::vector<std::uint8_t> bytes = std::move(it->second.bytes);
  held_bytes_ -= bytes.size();
  held_order_.erase(it->second.seq);
  held_.erase(it);
  return bytes;
}

std::optional<IngestStatus> PgJobStore::status_where(std::string_view condition, std::string_view a,
                                                     std::string_view b) {
  const std::string query = "SELECT " + std::string(kStatusColumns) + " FROM ingest_jobs WHERE " + std::string(condition);
  return run([&](Connection& c) -> std::optional<IngestStatus> {
    const Result r = b.empty() ? c.exec(query, {Param::text(a)}) : c.exec(query, {Param::text(a), Param::text(b)});
    if (r.rows() == 0) return std::nullopt;
    return status_row(r, 0);
  });
}

std::optional<IngestStatus> PgJobStore::status(std::string_view id) { return status_where("id = $1", id, {}); }

std::optional<IngestStatus> PgJobStore::find(std::string_view source, std::string_view idempotency_key) {
  return status_where("source = $1 AND idem_key = $2", source, idempotency_key);
}

std::optional<QueuedJob> PgJobStore::load(std::string_view id) {
  return run([&](Connection& c) -> std::optional<QueuedJob> {
    const Result r = c.exec(
        "SELECT kind, to_number, to_name, caller_number, caller_name, file_name, received_ms, source, accepted_ms,"
        " state, attempts, note FROM ingest_jobs WHERE id = $1",
        {Param::text(id)});
    if (r.rows() == 0) return std::nullopt;
    QueuedJob job;
    auto& rec = job.recording;
    rec.kind = parse_kind(r.view(0, 0));
    rec.to_number = r.text(0, 1);
    rec.to_name = r.text(0, 2);
    rec.caller.number = r.text(0, 3);
    rec.caller.name = r.text(0, 4);
    rec.file_name = r.text(0, 5);
    rec.received = QueueClock::time_point(std::chrono::milliseconds(r.integer(0, 6)));
    job.source = r.text(0, 7);
    job.accepted_ms = r.integer(0, 8);
    // A job taken over in the middle of its delivery runs again (job_store.hpp).
    job.state = r.view(0, 9) == "delivering" ? "queued" : r.text(0, 9);
    job.attempts = static_cast<std::size_t>(r.integer(0, 10));
    rec.note = r.text(0, 11);
    return job;
  });
}

std::vector<std::uint8_t> PgJobStore::read_media(std::string_view id) {
  if (auto held = take_held(id)) return std::move(*held);
  return run([&](Connection& c) {
    const Result r = c.exec_binary("SELECT recording FROM ingest_jobs WHERE id = $1", {Param::text(id)});
    if (r.rows() == 0 || r.is_null(0, 0))
      throw IngestQueueError("the recording of job " + std::string(id) + " is not in the database");
    const std::string_view bytes = r.view(0, 0);
    return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
  });
}

// SKIP LOCKED: nodes taking over at the same moment take different jobs
// and never wait for each other.
std::vector<std::string> PgJobStore::take_queued(bool, std::size_t at_most) {
  if (at_most == 0) return {};
  return run([&](Connection& c) {
    const Result r = c.exec(
        sql("WITH due AS (SELECT id, lease_owner FROM ingest_jobs WHERE state IN ('queued', 'delivering')"
            " AND next_ms <= {now} AND (lease_until < {now} OR lease_owner = $1)"
            " ORDER BY next_ms LIMIT $3 FOR UPDATE SKIP LOCKED),"
            " taken AS (UPDATE ingest_jobs j SET lease_owner = $1, lease_until = {now} + $2 FROM due"
            " WHERE j.id = due.id RETURNING j.id, due.lease_owner AS previous, j.accepted_ms)"
            " SELECT id, previous FROM taken ORDER BY accepted_ms"),
        {Param::text(node_id_), Param::text(lease_ms_), IntParam(static_cast<std::int64_t>(at_most))});
    std::vector<std::string> ids;
    for (int i = 0; i < r.rows(); ++i) {
      ids.push_back(r.text(i, 0));
      if (r.view(i, 1) != node_id_)
        log(LogLevel::Info, kQueueLog, "id={}: taken over from node {}, whose lease ran out", ids.back(),
            r.view(i, 1).empty() ? "(none)" : r.view(i, 1));
    }
    return ids;
  });
}

void PgJobStore::heartbeat() {
  run([&](Connection& c) {
    Transaction t(c);
    c.exec(sql("INSERT INTO cluster_nodes (node_id, host, pid, started_ms, heartbeat_ms) VALUES ($1, $2, $3, $4, {now})"
               " ON CONFLICT (node_id) DO UPDATE SET host = $2, pid = $3, started_ms = $4, heartbeat_ms = {now}"),
           {Param::text(node_id_), Param::text(host_name()), IntParam(::getpid()), IntParam(started_ms_)});
    c.exec(sql("UPDATE ingest_jobs SET lease_until = {now} + $2 WHERE lease_owner = $1"
               " AND state IN ('queued', 'delivering')"),
           {Param::text(node_id_), Param::text(lease_ms_)});
    c.exec(sql("UPDATE ingest_webhooks SET lease_until = {now} + $2 WHERE lease_owner = $1 AND state = 'pending'"),
           {Param::text(node_id_), Param::text(lease_ms_)});
    t.commit();
  });
}

void PgJobStore::mark_queued(std::string_view id) {
  run([&](Connection& c) { c.exec("UPDATE ingest_jobs SET state = 'queued' WHERE id = $1", {Param::text(id)}); });
}

bool PgJobStore::mark_delivering(std::string_view id, std::uint32_t) {
  return run([&](Connection& c) {
    // Only a queued job changes state (another node may have finished it:
    // the delivery key then finds its copy); a row at all means it exists.
    return c.exec("UPDATE ingest_jobs SET state = CASE WHEN state = 'queued' THEN 'delivering' ELSE state END"
                  " WHERE id = $1 RETURNING id",
                  {Param::text(id)})
               .rows() > 0;
  });
}

void PgJobStore::set_reason(std::string_view id, std::string_view reason) {
  run([&](Connection& c) {
    c.exec("UPDATE ingest_jobs SET reason = $2 WHERE id = $1", {Param::text(id), Param::text(reason)});
  });
}

void PgJobStore::record_retry(std::string_view id, std::string_view reason, std::chrono::milliseconds delay) {
  run([&](Connection& c) {
    c.exec(sql("UPDATE ingest_jobs SET state = 'queued', reason = $2, attempts = attempts + 1, next_ms = {now} + $3"
               " WHERE id = $1 AND state IN ('queued', 'delivering')"),
           {Param::text(id), Param::text(reason), IntParam(delay.count())});
  });
}

// The webhook is owed in the same transaction as the state it reports.
bool PgJobStore::record_outcome(std::string_view id, const JobOutcome& o) {
  return run([&](Connection& c) {
    Transaction t(c);
    const bool delivered = o.state == IngestState::Delivered;
    const Result r = c.exec(
        "UPDATE ingest_jobs SET state = $2, reason = $3, uid = $4, finished_ms = $5, forwarded_to = $6,"
        " lease_owner = '', lease_until = 0, recording = CASE WHEN $7 THEN NULL ELSE recording END"
        " WHERE id = $1 AND state IN ('queued', 'delivering') RETURNING callback_url",
        {Param::text(id), Param::text(state_name(o.state)), Param::text(o.reason), IntParam(o.uid),
         IntParam(o.finished_ms), Param::text(o.forwarded_to), Param::text(delivered ? "true" : "false")});
    if (r.rows() == 0) return false;
    if (!r.view(0, 0).empty())
      c.exec(sql("INSERT INTO ingest_webhooks (job_id, url, next_ms, lease_owner, lease_until)"
                 " VALUES ($1, $2, {now}, $3, {now} + $4)"),
             {Param::text(id), Param::text(r.view(0, 0)), Param::text(node_id_), Param::text(lease_ms_)});
    t.commit();
    return true;
  });
}

void PgJobStore::record_report(std::string_view id, const ReportUpdate& u) {
  run([&](Connection& c) {
    Transaction t(c);
    const DeliveryReport& d = u.report;
    const Result r = c.exec(
        "UPDATE ingest_jobs SET dsn_action = $2, dsn_status = $3, dsn_diagnostic = $4, dsn_recipient = $5,"
        " dsn_remote_mta = $6, state = CASE WHEN $7 THEN 'failed' ELSE state END,"
        " reason = CASE WHEN $7 THEN $8 ELSE reason END WHERE id = $1 RETURNING callback_url",
        {Param::text(id), Param::text(d.action), Param::text(d.status), Param::text(d.diagnostic_code),
         Param::text(d.final_recipient), Param::text(d.remote_mta), Param::text(u.failure ? "true" : "false"),
         Param::text(u.reason)});
    if (u.owes_webhook && r.rows() != 0 && !r.view(0, 0).empty())
      c.exec(sql("INSERT INTO ingest_webhooks (job_id, url, next_ms, lease_owner, lease_until)"
                 " VALUES ($1, $2, {now}, $3, {now} + $4)"),
             {Param::text(id), Param::text(r.view(0, 0)), Param::text(node_id_), Param::text(lease_ms_)});
    t.commit();
  });
}

// This node's pending webhook due first, or one whose owner is gone.
std::vector<IngestStatus> PgJobStore::open_jobs(std::size_t limit) {
  return run([&](Connection& c) {
    const Result r = c.exec("SELECT " + std::string(kStatusColumns) +
                                " FROM ingest_jobs WHERE state != 'delivered' ORDER BY accepted_ms DESC LIMIT $1",
                            {IntParam(static_cast<std::int64_t>(limit))});
    std::vector<IngestStatus> jobs;
    for (int i = 0; i < r.rows(); ++i) jobs.push_back(status_row(r, i));
    return jobs;
  });
}

// Its recording row stayed with it (only delivery clears it).
bool PgJobStore::requeue_failed(std::string_view id) {
  return run([&](Connection& c) {
    return c.exec(sql("UPDATE ingest_jobs SET state = 'queued', reason = '', finished_ms = 0, attempts = 0,"
                      " next_ms = {now}, lease_owner = $2, lease_until = {now} + $3"
                      " WHERE id = $1 AND state = 'failed' RETURNING id"),
                  {Param::text(id), Param::text(node_id_), Param::text(lease_ms_)})
               .rows() > 0;
  });
}

bool PgJobStore::remove(std::string_view id) {
  take_held(id);
  return run([&](Connection& c) {
    Transaction t(c);
    if (c.exec("DELETE FROM ingest_jobs WHERE id = $1 AND state IN ('queued', 'failed') RETURNING id", {Param::text(id)})
            .rows() == 0)
      return false;
    c.exec("DELETE FROM ingest_webhooks WHERE job_id = $1", {Param::text(id)});
    t.commit();
    return true;
  });
}

std::optional<OwedWebhook> PgJobStore::next_webhook() {
  return run([&](Connection& c) -> std::optional<OwedWebhook> {
    const Result r = c.exec(
        sql("WITH next AS (SELECT seq FROM ingest_webhooks WHERE state = 'pending'"
            " AND (lease_owner = $1 OR lease_until < {now}) ORDER BY next_ms LIMIT 1 FOR UPDATE SKIP LOCKED)"
            " UPDATE ingest_webhooks w SET lease_owner = $1, lease_until = {now} + $2 FROM next WHERE w.seq = next.seq"
            " RETURNING w.seq, w.job_id, w.url, w.attempts, w.next_ms - {now} + $3"),
        {Param::text(node_id_), Param::text(lease_ms_), IntParam(now_ms())});
    if (r.rows() == 0) return std::nullopt;
    // next_ms in this node's clock, which the sender waits by.
    return OwedWebhook{r.integer(0, 0), r.text(0, 1), r.text(0, 2), static_cast<unsigned>(r.integer(0, 3)),
                       r.integer(0, 4)};
  });
}

void PgJobStore::record_webhook_attempt(std::int64_t seq, unsigned attempts, std::string_view state,
                                        std::int64_t next_ms, std::string_view error) {
  run([&](Connection& c) {
    c.exec(sql("UPDATE ingest_webhooks SET attempts = $2, state = $3, next_ms = {now} + ($4::bigint - $5::bigint), last_error = $6"
               " WHERE seq = $1"),
           {IntParam(seq), IntParam(attempts), Param::text(state), IntParam(next_ms), IntParam(now_ms()),
            Param::text(error)});
  });
}

std::uint64_t PgJobStore::pending_webhooks() {
  return run([](Connection& c) {
    return static_cast<std::uint64_t>(
        c.exec("SELECT count(*) FROM ingest_webhooks WHERE state = 'pending'").integer(0, 0));
  });
}

std::vector<ErasedJob> PgJobStore::erase_caller(std::string_view caller_number, bool dry_run) {
  return run([&](Connection& c) {
    const Result r = c.exec(
        dry_run ? "SELECT id, state, kind, accepted_ms FROM ingest_jobs"
                  " WHERE caller_number = $1 AND state <> 'delivering' ORDER BY accepted_ms"
                : "WITH gone AS (DELETE FROM ingest_jobs WHERE caller_number = $1 AND state <> 'delivering'"
                  "   RETURNING id, state, kind, accepted_ms),"
                  " hooks AS (DELETE FROM ingest_webhooks w USING gone WHERE w.job_id = gone.id)"
                  " SELECT id, state, kind, accepted_ms FROM gone ORDER BY accepted_ms",
        {Param::text(caller_number)});
    std::vector<ErasedJob> erased;
    for (int row = 0; row < r.rows(); ++row) {
      erased.push_back({r.text(row, 0), r.text(row, 1), r.text(row, 2), r.integer(row, 3)});
      if (!dry_run) take_held(erased.back().id);  // nor a copy in this process's memory
    }
    return erased;
  });
}

}  // namespace umstore::ingest
