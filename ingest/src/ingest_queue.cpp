#include "ingest/ingest_queue.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "compose_workers.hpp"
#include "forwarding.hpp"
#include "ingest_metrics.hpp"
#include "job_database.hpp"
#include "job_delivery.hpp"
#include "queued_job.hpp"
#include "webhook_sender.hpp"

// The queue's parts, each in its own file: the job database (all SQL), the
// compose workers (due jobs, lane batching), job delivery (storers, the
// store step, outcomes, retries, crash recovery), forwarding and DSNs, the
// webhook sender and the metrics. Here: submitting, and wiring them.

namespace umstore::ingest {
namespace {

std::string new_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{:016x}{:08x}", random(), static_cast<std::uint32_t>(random()));
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
  JobDatabase db;
  IngestMetrics metrics;
  WebhookSender webhooks{config, db, metrics};
  Forwarding forwarding{config, db, webhooks};
  ComposeWorkers workers;
  JobDelivery delivery;

  Impl(IngestQueueConfig c, mailstore::MailStore& store)
      : config(std::move(c)),
        db((create_directories_durably(config.dir / "jobs"), create_directories_durably(config.dir / "failed"),
            config.dir / "queue.db")),
        workers(config, db,
                {[this](ComposedJob&& composed) { delivery.hand_over(std::move(composed)); },
                 [this](const std::string& id, const std::string& reason) { delivery.fail(id, reason); }}),
        delivery({config, store, db, workers, forwarding, webhooks, metrics}) {}

  // Stops the parts in the order that matters before the members go in
  // reverse order: the workers before the storers, which store what the
  // workers composed.
  ~Impl() { stop(); }

  void start() {
    delivery.recover_interrupted();
    const std::vector<std::string> queued = db.queued_ids();
    for (const auto& id : queued) workers.schedule(id, QueueClock::now());
    if (!queued.empty()) log(LogLevel::Info, kQueueLog, "resuming {} queued job(s)", queued.size());
    workers.start();
    delivery.start();
    webhooks.start();
  }

  void stop() {
    webhooks.request_stop();
    workers.stop();
    delivery.stop();
    webhooks.stop();
  }

  // `store_media` puts the recording's bytes at the path it is given, durably,
  // and returns their size.
  template <typename StoreMedia>
  SubmitResult submit(const Recording& r, const SubmitOptions& o, StoreMedia&& store_media) {
    if (!o.idempotency_key.empty()) {
      if (auto existing = db.find(o.source, o.idempotency_key)) {
        ++metrics.duplicates;
        return {existing->id, true};
      }
    }
    const std::string id = new_id();
    const auto media = job_media_path(config.dir, id);
    std::uintmax_t size = 0;
    try {
      size = store_media(media);
      fsync_directory(media.parent_path());
    } catch (const IoError& e) {
      std::filesystem::remove(media);
      throw IngestQueueError(std::string("cannot queue the recording: ") + e.what());
    }
    if (!db.insert(id, r, o, now_ms())) {  // the same key raced in from another connection
      std::filesystem::remove(media);
      ++metrics.duplicates;
      return {db.find(o.source, o.idempotency_key).value().id, true};
    }
    ++metrics.accepted;
    log(LogLevel::Info, kQueueLog, "queued id={} {} to={} from={} source={} size={}", id, kind_name(r.kind),
        r.to_number, r.caller.number, o.source, size);
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
  return impl_->submit(r, o, [&r](const std::filesystem::path& media) {
    write_file_durably(media, r.file);
    return std::uintmax_t{r.file.size()};
  });
}

SubmitResult IngestQueue::submit_file(const Recording& r, const std::filesystem::path& file, const SubmitOptions& o) {
  return impl_->submit(r, o, [&file](const std::filesystem::path& media) { return link_or_copy_durably(file, media); });
}

std::optional<IngestStatus> IngestQueue::status(std::string_view id) const { return impl_->db.status(id); }
std::optional<IngestStatus> IngestQueue::find(std::string_view source, std::string_view key) const {
  return impl_->db.find(source, key);
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
