// The fax queue and the page budgets in the PostgreSQL backend's database,
// shared by every node: one row per job (the job as JSON, its pages and
// message as bytea). A node dials a job while it holds its lease, renewed
// a few times per lease; the jobs of a node that died are taken over once
// their leases run out (SKIP LOCKED: nodes never wait for each other).
// Lease times are the database's clock. Ended jobs leave a record row for
// their status, and the webhook they owe a row of its own.
#include <fcntl.h>

#include <atomic>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "common/periodic_task.hpp"
#include "faxout/fax_jobs.hpp"
#include "faxout/send_policy.hpp"
#include "pgsql/connection_pool.hpp"

namespace umstore::faxout {
namespace {

using pgsql::Connection;
using pgsql::IntParam;
using pgsql::Param;
using pgsql::PgError;
using pgsql::Result;
using pgsql::with_database_clock;

constexpr std::string_view kLog = "fax";

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS fax_jobs (
  id          text PRIMARY KEY,             -- sorts by arrival (new_queue_id)
  job         text NOT NULL,                -- serialise_job: JSON
  pages       bytea NOT NULL,               -- TIFF-F
  message     bytea NOT NULL,               -- the email, for the DSN
  source      text NOT NULL,
  idempotency_key text NOT NULL DEFAULT '',
  next_ms     bigint NOT NULL,              -- the job's next_attempt, Unix ms (0 once it ended)
  lease_owner text NOT NULL DEFAULT '',
  lease_until bigint NOT NULL DEFAULT 0     -- database clock, Unix ms
);
CREATE INDEX IF NOT EXISTS fax_jobs_due ON fax_jobs (next_ms);
CREATE TABLE IF NOT EXISTS fax_records (
  id          text PRIMARY KEY,
  job         text NOT NULL,
  source      text NOT NULL,
  idempotency_key text NOT NULL DEFAULT '',
  ended       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fax_records_key ON fax_records (source, idempotency_key);
-- One job per source and Idempotency-Key, across the nodes (a job moves
-- from fax_jobs to fax_records, so neither table can say it alone).
CREATE TABLE IF NOT EXISTS fax_request_keys (
  source      text NOT NULL,
  key         text NOT NULL,
  id          text NOT NULL,
  created     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS fax_webhooks (
  id          text PRIMARY KEY,             -- the ended job's
  url         text NOT NULL,
  attempts    integer NOT NULL DEFAULT 0,
  next_ms     bigint NOT NULL DEFAULT 0     -- Unix ms: due, or claimed by a node until then
);
CREATE TABLE IF NOT EXISTS fax_page_budget (
  holder      text NOT NULL,
  day         date NOT NULL,
  used        integer NOT NULL,
  PRIMARY KEY (holder, day)
);
)sql";
constexpr std::string_view kSchemaLock = "SELECT pg_advisory_xact_lock(7220918)";

// A pool whose errors name the database and whose schema is made once.
class FaxDatabase {
 public:
  template <typename Work>
  auto run(Work&& work) const {
    try {
      auto c = pool_.lease();
      return work(*c);
    } catch (const PgError& e) {
      throw FaxQueueError(std::string("the fax queue's database: ") + e.what());
    }
  }

  FaxDatabase(const std::string& conninfo, std::size_t size) : pool_(conninfo, size) {
    run([](Connection& c) {
      pgsql::Transaction t(c);
      c.exec(kSchemaLock);
      c.exec(kSchema);
      t.commit();
    });
  }

 private:
  mutable pgsql::ConnectionPool pool_;
};

class PgFaxJobs final : public FaxJobs {
 public:
  PgFaxJobs(const std::string& conninfo, std::string node_id, std::chrono::milliseconds lease,
            std::filesystem::path work_dir)
      : db_(conninfo, 2), node_id_(std::move(node_id)), lease_ms_(std::to_string(lease.count())),
        work_dir_(std::move(work_dir)) {
    create_directories_durably(work_dir_);
  }

  void add(const FaxJob& job, std::string_view tiff, std::string_view message) override {
    db_.run([&](Connection& c) {
      pgsql::Transaction t(c);
      if (!job.idempotency_key.empty() &&
          c.exec("INSERT INTO fax_request_keys (source, key, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                 {Param::text(job.source), Param::text(job.idempotency_key), Param::text(job.id)})
                  .affected() == 0)
        throw DuplicateRequest("another request with Idempotency-Key " + job.idempotency_key + " made a fax job");
      // Leased to the node that accepted it, whose dialler was just woken for it.
      c.exec(with_database_clock("INSERT INTO fax_jobs (id, job, pages, message, source, idempotency_key, next_ms,"
                                 " lease_owner, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {now} + $9)"),
             {Param::text(job.id), Param::text(serialise_job(job)), Param::bytes(tiff), Param::bytes(message),
              Param::text(job.source), Param::text(job.idempotency_key), IntParam(pgsql::unix_ms(job.next_attempt)),
              Param::text(node_id_), Param::text(lease_ms_)});
      t.commit();
    });
  }

  void update(const FaxJob& job) override {
    const std::int64_t next = job.state == JobState::pending ? pgsql::unix_ms(job.next_attempt) : 0;
    db_.run([&](Connection& c) {
      c.exec("UPDATE fax_jobs SET job = $2, next_ms = $3 WHERE id = $1",
             {Param::text(job.id), Param::text(serialise_job(job)), IntParam(next)});
    });
  }

  void remove(std::string_view id) override {
    db_.run([&](Connection& c) { c.exec("DELETE FROM fax_jobs WHERE id = $1", {Param::text(id)}); });
  }

  void archive(const FaxJob& job) override {
    db_.run([&](Connection& c) {
      pgsql::Transaction t(c);
      c.exec("INSERT INTO fax_records (id, job, source, idempotency_key) VALUES ($1, $2, $3, $4)"
             " ON CONFLICT (id) DO UPDATE SET job = EXCLUDED.job",
             {Param::text(job.id), Param::text(serialise_job(job)), Param::text(job.source),
              Param::text(job.idempotency_key)});
      if (!job.callback_url.empty())
        c.exec("INSERT INTO fax_webhooks (id, url) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
               {Param::text(job.id), Param::text(job.callback_url)});
      c.exec("DELETE FROM fax_jobs WHERE id = $1", {Param::text(job.id)});
      t.commit();
    });
  }

  // Claimed by moving its due time past the claim: a node that dies while
  // sending leaves it to the others once that passes.
  std::optional<OwedWebhook> next_webhook(std::chrono::milliseconds claim) override {
    const auto now = pgsql::unix_ms(Clock::now());
    const Result r = db_.run([&](Connection& c) {
      return c.exec("UPDATE fax_webhooks SET next_ms = $2 WHERE id = (SELECT id FROM fax_webhooks WHERE next_ms <= $1"
                    " ORDER BY next_ms LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, url, attempts",
                    {IntParam(now), IntParam(now + claim.count())});
    });
    if (r.rows() == 0) return std::nullopt;
    return OwedWebhook{r.text(0, 0), r.text(0, 1), static_cast<unsigned>(std::stoul(r.text(0, 2)))};
  }

  void webhook_attempted(std::string_view id, unsigned attempts, std::optional<Clock::time_point> retry_at) override {
    db_.run([&](Connection& c) {
      if (!retry_at) return c.exec("DELETE FROM fax_webhooks WHERE id = $1", {Param::text(id)});
      return c.exec("UPDATE fax_webhooks SET attempts = $2, next_ms = $3 WHERE id = $1",
                    {Param::text(id), IntParam(attempts), IntParam(pgsql::unix_ms(*retry_at))});
    });
  }

  void expire_archive(std::chrono::seconds age) override {
    db_.run([&](Connection& c) {
      c.exec("DELETE FROM fax_records WHERE ended < now() - make_interval(secs => $1)", {IntParam(age.count())});
      c.exec("DELETE FROM fax_request_keys k WHERE created < now() - make_interval(secs => $1)"
             " AND NOT EXISTS (SELECT 1 FROM fax_jobs j WHERE j.id = k.id)",
             {IntParam(age.count())});
    });
  }

  std::optional<FaxJob> find_by_key(std::string_view source, std::string_view key) const override {
    if (key.empty()) return std::nullopt;
    return one("SELECT job FROM fax_jobs WHERE source = $1 AND idempotency_key = $2"
               " UNION ALL SELECT job FROM fax_records WHERE source = $1 AND idempotency_key = $2 LIMIT 1",
               source, key);
  }

  // Those due (or ended, their report owed) that this node holds or whose
  // holder's lease ran out. The renewals start with the first call: only a
  // node that dials holds leases.
  std::vector<FaxJob> take() override {
    std::call_once(renewing_, [this] {
      const auto period = std::chrono::milliseconds(std::max<std::int64_t>(100, std::stoll(lease_ms_) / 3));
      renewal_ = std::make_unique<PeriodicTask>(period, period, [this] { renew_leases(); });
    });
    const Result r = db_.run([&](Connection& c) {
      return c.exec(with_database_clock(
                        "WITH due AS (SELECT id FROM fax_jobs WHERE next_ms <= $3"
                        " AND (lease_owner = $1 OR lease_until < {now}) ORDER BY next_ms LIMIT 256"
                        " FOR UPDATE SKIP LOCKED)"
                        " UPDATE fax_jobs f SET lease_owner = $1, lease_until = {now} + $2 FROM due"
                        " WHERE f.id = due.id RETURNING f.id, f.job"),
                    {Param::text(node_id_), Param::text(lease_ms_), IntParam(pgsql::unix_ms(Clock::now()))});
    });
    auto jobs = parsed(r);
    std::sort(jobs.begin(), jobs.end(), [](const FaxJob& a, const FaxJob& b) { return a.id < b.id; });
    return jobs;
  }

  std::optional<FaxJob> find(std::string_view id) const override {
    return one("SELECT job FROM fax_jobs WHERE id = $1 UNION ALL SELECT job FROM fax_records WHERE id = $2 LIMIT 1",
               id, id);
  }

  std::vector<FaxJob> list(std::size_t limit) const override {
    const Result r = db_.run([&](Connection& c) {
      return c.exec("SELECT id, job FROM fax_jobs ORDER BY id LIMIT $1", {IntParam(static_cast<std::int64_t>(limit))});
    });
    return parsed(r);
  }

  // Written for the call and gone after it: the SIP endpoint reads a file.
  std::filesystem::path pages(std::string_view id) override {
    const Result r = db_.run([&](Connection& c) {
      return c.exec_binary("SELECT pages FROM fax_jobs WHERE id = $1", {Param::text(id)});
    });
    if (r.rows() == 0) throw FaxQueueError("no fax job " + std::string(id) + " in the database");
    const auto file = work_dir_ / (std::string(id) + ".tif");
    replace_file_durably(file, r.view(0, 0));
    return file;
  }

  void release_pages(std::string_view id) override {
    std::error_code ec;
    std::filesystem::remove(work_dir_ / (std::string(id) + ".tif"), ec);
  }

  std::string message(std::string_view id) const override {
    const Result r = db_.run([&](Connection& c) {
      return c.exec_binary("SELECT message FROM fax_jobs WHERE id = $1", {Param::text(id)});
    });
    if (r.rows() == 0) throw FaxQueueError("no fax job " + std::string(id) + " in the database");
    return r.text(0, 0);
  }

  // Pages a crash left in the work directory.
  void remove_orphans() override {
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
    create_directories_durably(work_dir_);
  }

  std::string location() const override { return "the database's fax queue"; }

 private:
  // Rows of (id, job); damaged ones logged and left out.
  static std::vector<FaxJob> parsed(const Result& r) {
    std::vector<FaxJob> jobs;
    for (int i = 0; i < r.rows(); ++i) {
      try {
        jobs.push_back(parse_job(r.view(i, 1)));
      } catch (const std::exception& e) {
        log(LogLevel::Error, kLog, "job {} in the database is damaged ({}): left there", r.view(i, 0), e.what());
      }
    }
    return jobs;
  }

  std::optional<FaxJob> one(std::string_view sql, std::string_view a, std::string_view b) const {
    const Result r = db_.run([&](Connection& c) { return c.exec(sql, {Param::text(a), Param::text(b)}); });
    if (r.rows() == 0) return std::nullopt;
    return parse_job(r.view(0, 0));
  }

  // A database that cannot be reached is logged once until it answers again.
  void renew_leases() {
    try {
      db_.run([&](Connection& c) {
        c.exec(with_database_clock("UPDATE fax_jobs SET lease_until = {now} + $2 WHERE lease_owner = $1"),
               {Param::text(node_id_), Param::text(lease_ms_)});
      });
      if (failing_.exchange(false)) log(LogLevel::Info, kLog, "the fax queue's leases are renewed again");
    } catch (const std::exception& e) {
      if (!failing_.exchange(true)) log(LogLevel::Warning, kLog, "cannot renew this node's fax leases: {}", e.what());
    }
  }

  FaxDatabase db_;
  const std::string node_id_;
  const std::string lease_ms_;
  const std::filesystem::path work_dir_;
  std::atomic<bool> failing_{false};
  std::once_flag renewing_;
  std::unique_ptr<PeriodicTask> renewal_;  // last: stops before the members it uses go
};

class PgPageBudget final : public PageBudget {
 public:
  PgPageBudget(const std::string& conninfo, unsigned pages_per_day) : db_(conninfo, 2), limit_(pages_per_day) {}

  bool exhausted(const std::string& user) const override {
    if (limit_ == 0) return false;
    return used(user) >= limit_;
  }

  // One statement: two nodes taking pages at once cannot both fit.
  bool take(const std::string& user, unsigned pages, unsigned& left) override {
    const unsigned before = used(user);
    left = limit_ == 0 ? pages : (before >= limit_ ? 0 : limit_ - before);
    const auto limit = limit_ == 0 ? std::int64_t{1} << 40 : std::int64_t{limit_};
    return db_.run([&](Connection& c) {
      return c.exec("INSERT INTO fax_page_budget AS b (holder, day, used)"
                    " SELECT $1, (now() AT TIME ZONE 'UTC')::date, $2::integer WHERE $2::bigint <= $3::bigint"
                    " ON CONFLICT (holder, day) DO UPDATE SET used = b.used + EXCLUDED.used"
                    " WHERE b.used + EXCLUDED.used <= $3",
                    {Param::text(user), IntParam(pages), IntParam(limit)})
                 .affected() > 0;
    });
  }

  void give_back(const std::string& user, unsigned pages) override {
    db_.run([&](Connection& c) {
      c.exec("UPDATE fax_page_budget SET used = greatest(0, used - $2) WHERE holder = $1"
             " AND day = (now() AT TIME ZONE 'UTC')::date",
             {Param::text(user), IntParam(pages)});
    });
  }

 private:
  unsigned used(const std::string& user) const {
    const Result r = db_.run([&](Connection& c) {
      return c.exec("SELECT used FROM fax_page_budget WHERE holder = $1 AND day = (now() AT TIME ZONE 'UTC')::date",
                    {Param::text(user)});
    });
    return r.rows() == 0 ? 0 : static_cast<unsigned>(std::stoul(r.text(0, 0)));
  }

  FaxDatabase db_;
  const unsigned limit_;
};

}  // namespace

std::unique_ptr<FaxJobs> open_postgresql_fax_jobs(const std::string& conninfo, const std::string& node_id,
                                                  std::chrono::milliseconds lease, std::filesystem::path work_dir) {
  return std::make_unique<PgFaxJobs>(conninfo, node_id, lease, std::move(work_dir));
}

std::unique_ptr<PageBudget> open_postgresql_page_budget(const std::string& conninfo, unsigned pages_per_day) {
  return std::make_unique<PgPageBudget>(conninfo, pages_per_day);
}

}  // namespace umstore::faxout
