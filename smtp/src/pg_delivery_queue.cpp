// The SMTP delivery queue in the PostgreSQL backend's database, shared by
// every node: one row per message (envelope as JSON, message as bytea).
// A node attempts an envelope while it holds its lease; a thread renews
// this node's leases a few times per lease, so the envelopes of a node that
// died are taken over (SKIP LOCKED: nodes never wait for each other) once
// their leases run out. Local copies are keyed by the queue id in the
// mailstore (MailStore::deliver_once), so an envelope attempted twice that
// way is stored once. Lease times are the database's clock.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/log.hpp"
#include "pgsql/connection_pool.hpp"
#include "smtp/delivery_queue.hpp"

namespace umstore::smtp {
namespace {

using pgsql::Connection;
using pgsql::IntParam;
using pgsql::Param;
using pgsql::PgError;
using pgsql::Result;

constexpr std::string_view kLog = "queue";

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS smtp_queue (
  id          text PRIMARY KEY,             -- sorts by arrival (new_queue_id)
  envelope    text NOT NULL,                -- serialise_envelope: JSON
  message     bytea NOT NULL,
  next_ms     bigint NOT NULL,              -- the envelope's next_attempt, Unix ms
  lease_owner text NOT NULL DEFAULT '',
  lease_until bigint NOT NULL DEFAULT 0     -- database clock, Unix ms
);
CREATE INDEX IF NOT EXISTS smtp_queue_due ON smtp_queue (next_ms);
)sql";
constexpr std::string_view kSchemaLock = "SELECT pg_advisory_xact_lock(7220917)";
using pgsql::with_database_clock;

class PgDeliveryQueue final : public DeliveryQueue {
  static std::vector<std::string> column(const Result& r) {
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  }

  template <typename Work>
  auto run(Work&& work) const {
    try {
      auto c = pool_.lease();
      return work(*c);
    } catch (const PgError& e) {
      throw QueueError(std::string("the queue's database: ") + e.what());
    }
  }

 public:
  PgDeliveryQueue(const std::string& conninfo, std::string node_id, std::chrono::milliseconds lease,
                  std::size_t pool_size)
      : pool_(conninfo, pool_size), node_id_(std::move(node_id)), lease_ms_(std::to_string(lease.count())),
        period_(std::max(std::chrono::milliseconds(100), lease / 3)) {
    run([](Connection& c) {
      pgsql::Transaction t(c);
      c.exec(kSchemaLock);
      c.exec(kSchema);
      t.commit();
    });
  }

  ~PgDeliveryQueue() override {
    renewer_.request_stop();
    renewed_.notify_all();
  }

  void enqueue(const QueuedEnvelope& e, std::string_view message) override {
    if (!is_queue_id(e.id)) throw QueueError("bad queue id '" + e.id + "'");
    run([&](Connection& c) {
      c.exec(with_database_clock("INSERT INTO smtp_queue (id, envelope, message, next_ms, lease_owner, lease_until)"
                                 " VALUES ($1, $2, $3, $4, $5, {now} + $6)"),
             {Param::text(e.id), Param::text(serialise_envelope(e)), Param::bytes(message),
              IntParam(pgsql::unix_ms(e.next_attempt)), Param::text(node_id_), Param::text(lease_ms_)});
    });
  }

  void update(const QueuedEnvelope& e) override {
    run([&](Connection& c) {
      c.exec("UPDATE smtp_queue SET envelope = $2, next_ms = $3 WHERE id = $1",
             {Param::text(e.id), Param::text(serialise_envelope(e)), IntParam(pgsql::unix_ms(e.next_attempt))});
    });
  }

  bool remove(std::string_view id) override {
    return run([&](Connection& c) {
      return c.exec("DELETE FROM smtp_queue WHERE id = $1", {Param::text(id)}).affected() > 0;
    });
  }

  std::vector<std::string> ids() const override {
    return run([](Connection& c) {
      return column(c.exec("SELECT id FROM smtp_queue ORDER BY length(id), id"));
    });
  }

  // Those due that this node holds, or whose holder's lease ran out. Only
  // a node that works the queue holds leases, so the renewals start here
  // (not for `umstore queue`, which only looks and edits).
  std::vector<std::string> take_due() override {
    std::call_once(renewing_, [this] { renewer_ = std::jthread([this](std::stop_token stop) { renew_leases(stop); }); });
    return run([&](Connection& c) {
      const Result r = c.exec(with_database_clock(
          "WITH due AS (SELECT id, lease_owner FROM smtp_queue WHERE next_ms <= $3"
          " AND (lease_owner = $1 OR lease_until < {now}) ORDER BY next_ms LIMIT 256"
          " FOR UPDATE SKIP LOCKED),"
          " taken AS (UPDATE smtp_queue q SET lease_owner = $1, lease_until = {now} + $2 FROM due"
          " WHERE q.id = due.id RETURNING q.id, due.lease_owner AS previous)"
          " SELECT id, previous FROM taken ORDER BY length(id), id"),
          {Param::text(node_id_), Param::text(lease_ms_), IntParam(pgsql::unix_ms(Clock::now()))});
      std::vector<std::string> taken;
      for (int i = 0; i < r.rows(); ++i) {
        taken.push_back(r.text(i, 0));
        if (!r.view(i, 1).empty() && r.view(i, 1) != node_id_)
          log(LogLevel::Info, kLog, "id={}: taken over from node {}, whose lease ran out", taken.back(), r.view(i, 1));
      }
      return taken;
    });
  }

  std::optional<QueuedEnvelope> envelope(std::string_view id) const override {
    const auto text = run([&](Connection& c) -> std::optional<std::string> {
      const Result r = c.exec("SELECT envelope FROM smtp_queue WHERE id = $1", {Param::text(id)});
      if (r.rows() == 0) return std::nullopt;
      return r.text(0, 0);
    });
    if (!text) return std::nullopt;
    try {
      return parse_envelope(*text);
    } catch (const std::exception& e) {
      throw QueueError("queue envelope " + std::string(id) + " in the database is damaged: " + e.what());
    }
  }

  std::string message(std::string_view id) const override {
    return run([&](Connection& c) {
      const Result r = c.exec_binary("SELECT message FROM smtp_queue WHERE id = $1", {Param::text(id)});
      if (r.rows() == 0) throw QueueError("no message " + std::string(id) + " in the queue");
      return r.text(0, 0);
    });
  }

  std::string location() const override { return "the database's queue"; }

 private:
  // A database that cannot be reached is logged once until it answers again.
  void renew_leases(std::stop_token stop) {
    bool failing = false;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        if (renewed_.wait_for(lock, stop, period_, [] { return false; }) || stop.stop_requested()) return;
      }
      try {
        run([&](Connection& c) {
          c.exec(with_database_clock("UPDATE smtp_queue SET lease_until = {now} + $2 WHERE lease_owner = $1"),
                 {Param::text(node_id_), Param::text(lease_ms_)});
        });
        if (failing) log(LogLevel::Info, kLog, "the queue's leases are renewed again");
        failing = false;
      } catch (const std::exception& e) {
        if (!failing) log(LogLevel::Warning, kLog, "cannot renew this node's queue leases: {}", e.what());
        failing = true;
      }
    }
  }

  mutable pgsql::ConnectionPool pool_;
  const std::string node_id_;
  const std::string lease_ms_;
  const std::chrono::milliseconds period_;
  std::mutex mutex_;
  std::condition_variable_any renewed_;
  std::once_flag renewing_;
  std::jthread renewer_;  // last: stops before the members it uses go
};

}  // namespace

std::unique_ptr<DeliveryQueue> open_postgresql_queue(const std::string& conninfo, const std::string& node_id,
                                                     std::chrono::milliseconds lease, std::size_t pool_size) {
  try {
    return std::make_unique<PgDeliveryQueue>(conninfo, node_id, lease, pool_size);
  } catch (const PgError& e) {
    throw QueueError(std::string("the queue's database: ") + e.what());
  }
}

}  // namespace umstore::smtp
