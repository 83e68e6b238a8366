#include "ingest/ingest_queue.hpp"

#include <random>

#include "common/log.hpp"
#include "mailstore/mail_store.hpp"
#include "compose_workers.hpp"
#include "forwarding.hpp"
#include "ingest_metrics.hpp"
#include "job_delivery.hpp"
#include "job_leases.hpp"
#include "pg_job_store.hpp"
#include "sqlite_job_store.hpp"
#include "queued_job.hpp"
#include "webhook_sender.hpp"

// The queue's parts, each in its own file: the job store (all SQL: SQLite
// for one node, PostgreSQL shared by several, with the leases' upkeep), the
// compose workers (due jobs, lane batching), job delivery (storers, the
// store step, outcomes, retries, crash recovery), forwarding and DSNs, the
// webhook sender and the metrics. Here: submitting, and wiring them.

namespace umstore::ingest {
namespace {

std::string new_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{:016x}{:08x}", random(), static_cast<std::uint32_t>(random()));
}

std::unique_ptr<JobStore> open_job_store(const IngestQueueConfig& config) {
  if (config.postgresql_dsn.empty()) return std::make_unique<SqliteJobStore>(config.dir);
  return std::make_unique<PgJobStore>(config.postgresql_dsn, config.postgresql_pool_size, config.node_id,
                                      config.lease);
}

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
  std::unique_ptr<JobStore> job_store;
  JobStore& db;
  IngestMetrics metrics;
  WebhookSender webhooks{config, db, metrics};
  Forwarding forwarding{config, db, webhooks};
  ComposeWorkers workers;
  JobDelivery delivery;
  JobLeases leases;
  mailstore::MailStore& store;

  Impl(IngestQueueConfig c, mailstore::MailStore& store_in)
      : config(std::move(c)),
        job_store(open_job_store(config)),
        db(*job_store),
        workers(config, db,
                {[this](ComposedJob&& composed) { delivery.hand_over(std::move(composed)); },
                 [this](const std::string& id, const std::string& reason) { delivery.fail(id, reason); }}),
        delivery({config, store_in, db, workers, forwarding, webhooks, metrics}),
        leases(db, config.lease, [this] { return room(); },
               [this](const std::string& id) { workers.schedule(id, QueueClock::now()); }),
        store(store_in) {}

  // Jobs this node takes from a shared store beyond those it runs: a few
  // batches' worth, as the storers hold (JobDelivery::hand_over).
  std::size_t room() const {
    const std::size_t capacity = 4 * std::size_t{std::max(1u, config.batch_size)} * std::max(1u, config.workers);
    const std::size_t depth = workers.depth();
    return depth >= capacity ? 0 : capacity - depth;
  }

  // Stops the parts in the order that matters before the members go in
  // reverse order: the workers before the storers, which store what the
  // workers composed.
  ~Impl() { stop(); }

  void start() {
    delivery.recover_interrupted();
    const std::vector<std::string> queued = db.take_queued(true, room());
    for (const auto& id : queued) workers.schedule(id, QueueClock::now());
    if (!queued.empty()) log(LogLevel::Info, kQueueLog, "resuming {} queued job(s)", queued.size());
    workers.start();
    delivery.start();
    webhooks.start();
    if (db.shared()) leases.start();
  }

  void stop() {
    leases.stop();
    webhooks.request_stop();
    workers.stop();
    delivery.stop();
    webhooks.stop();
  }

  SubmitResult submit(const Recording& r, const SubmitOptions& o, const JobMedia& media) {
    if (!o.idempotency_key.empty()) {
      if (auto existing = db.find(o.source, o.idempotency_key)) {
        ++metrics.duplicates;
        return {existing->id, true};
      }
    }
    const std::string id = new_id();
    const auto size = db.insert(id, r, o, now_ms(), media);
    if (!size) {  // the same key raced in from another connection
      ++metrics.duplicates;
      return {db.find(o.source, o.idempotency_key).value().id, true};
    }
    ++metrics.accepted;
    log(LogLevel::Info, kQueueLog, "queued id={} {} to={} from={} source={} size={}", id, kind_name(r.kind),
        r.to_number, r.caller.number, o.source, *size);
    workers.schedule(id, QueueClock::now());
    return {id, false};
  }
};

IngestQueue::IngestQueue(IngestQueueConfig config, mailstore::MailStore& store)
    : impl_(std::make_unique<Impl>(std::move(config), store)) {}
IngestQueue::~IngestQueue() = default;
void IngestQueue::on_final(FinalListener listener) { impl_->delivery.on_final(std::move(listener)); }
void IngestQueue::start() { impl_->start(); }
void IngestQueue::stop() { impl_->stop(); }

SubmitResult IngestQueue::submit(const Recording& r, const SubmitOptions& o) {
  return impl_->submit(r, o, std::span<const std::uint8_t>(r.file));
}

SubmitResult IngestQueue::submit_file(const Recording& r, const std::filesystem::path& file, const SubmitOptions& o) {
  return impl_->submit(r, o, file);
}

std::optional<IngestStatus> IngestQueue::status(std::string_view id) const { return impl_->db.status(id); }

std::vector<ErasedJob> IngestQueue::erase_caller(std::string_view caller_number, bool dry_run) {
  auto erased = impl_->db.erase_caller(caller_number, dry_run);
  if (!dry_run)
    for (const auto& job : erased) impl_->workers.unschedule(job.id);
  return erased;
}
std::optional<IngestStatus> IngestQueue::find(std::string_view source, std::string_view key) const {
  return impl_->db.find(source, key);
}
std::optional<std::string> IngestQueue::quota_refusal(std::string_view mailbox, Kind kind) const {
  const auto full = mailstore::first_full(impl_->store.user(mailbox)->quota(), kind == Kind::Voice);
  if (!full) return std::nullopt;
  return "mailbox " + std::string(mailbox) + " is full (" + std::to_string(full->used) + " of " +
         std::to_string(full->limit) + " " + std::string(mailstore::unit_name(full->resource)) +
         " used); submit again once its owner has made room";
}

std::vector<IngestStatus> IngestQueue::open_jobs(std::size_t limit) const { return impl_->db.open_jobs(limit); }

bool IngestQueue::retry_failed(std::string_view id) {
  if (!impl_->db.requeue_failed(id)) return false;
  log(LogLevel::Info, kQueueLog, "id={}: failed job queued again by an administrator", id);
  impl_->workers.schedule(std::string(id), QueueClock::now());
  return true;
}

bool IngestQueue::remove(std::string_view id) {
  if (!impl_->db.remove(id)) return false;
  impl_->workers.unschedule(std::string(id));
  log(LogLevel::Info, kQueueLog, "id={}: job and its recording removed by an administrator", id);
  return true;
}

bool IngestQueue::apply_report(std::string_view message) { return impl_->forwarding.apply_report(message); }

void IngestQueue::set_codec_limits(const codecs::AudioLimits& voice, const codecs::FaxLimits& fax) {
  impl_->workers.set_codec_limits(voice, fax);
}

IngestCounters IngestQueue::counters() const {
  return impl_->metrics.snapshot(impl_->workers.depth(), impl_->db.pending_webhooks());
}

bool IngestQueue::wait_idle(std::chrono::milliseconds timeout) const { return impl_->workers.wait_idle(timeout); }

}  // namespace umstore::ingest
