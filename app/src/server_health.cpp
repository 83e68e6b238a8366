#include "server_health.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/durable_file.hpp"
#include "common/metrics_text.hpp"
#include "ingest/ingest_queue.hpp"
#include "mailstore/account_store.hpp"
#include "smtp/delivery_queue.hpp"

namespace umstore::app {
namespace {

// Below this the store cannot take one more voicemail with its indexes.
constexpr std::uint64_t kMinFreeBytes = 64u << 20;
// Envelopes read per check: the oldest ones, which would be the stuck ones.
constexpr std::size_t kQueueEnvelopesChecked = 100;

ingest::HttpResponse json_response(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump(), {}};
}

}  // namespace

ServerHealth::ServerHealth(const DataLayout& data, const mailstore::AccountStore& accounts,
                           const smtp::DeliveryQueue& smtp_queue, const ingest::IngestQueue& ingest_queue)
    : data_(data), accounts_(accounts), smtp_queue_(smtp_queue), ingest_queue_(ingest_queue) {}

void ServerHealth::set_ready(bool ready) noexcept { ready_ = ready; }

std::string ServerHealth::store_problem() const {
  try {
    const auto probe = data_.run_dir() / "healthz.probe";
    replace_file_durably(probe, std::to_string(::getpid()));
    std::filesystem::remove(probe);
  } catch (const std::exception& e) {
    return std::string("the data directory cannot be written: ") + e.what();
  }
  struct statvfs fs {};
  if (::statvfs(data_.mail().c_str(), &fs) != 0) return "cannot read the mail file system's state";
  if (fs.f_flag & ST_RDONLY) return "the mail file system is read-only";
  const std::uint64_t free_bytes = std::uint64_t{fs.f_bavail} * fs.f_frsize;
  if (free_bytes < kMinFreeBytes) return "the mail file system has only " + std::to_string(free_bytes) + " bytes free";
  return {};
}

std::string ServerHealth::database_problem() const {
  try {
    (void)accounts_.find("+0");  // a query, whatever its answer
  } catch (const std::exception& e) {
    return std::string("the account database does not answer: ") + e.what();
  }
  return {};
}

std::string ServerHealth::smtp_queue_problem() const {
  const auto overdue = std::chrono::system_clock::now() - kStuckAfter;
  std::size_t checked = 0;
  for (const auto& id : smtp_queue_.ids()) {
    if (++checked > kQueueEnvelopesChecked) break;
    const auto envelope = smtp_queue_.envelope(id);
    if (envelope && !envelope->finished() && envelope->next_attempt < overdue)
      return "SMTP queue message " + id + " is overdue for delivery by more than 10 minutes";
  }
  return {};
}

std::string ServerHealth::ingest_queue_problem() {
  const ingest::IngestCounters c = ingest_queue_.counters();
  const std::uint64_t done = c.delivered + c.failed;
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard lock(mutex_);
  if (done != ingest_done_ || c.depth == 0) {
    ingest_done_ = done;
    ingest_progress_at_ = now;
    return {};
  }
  if (now - ingest_progress_at_ > kStuckAfter)
    return std::to_string(c.depth) + " ingest jobs wait and none completed for more than 10 minutes";
  return {};
}

ingest::HttpResponse ServerHealth::health() {
  nlohmann::json failed = nlohmann::json::object();
  if (auto why = store_problem(); !why.empty()) failed["store"] = why;
  if (auto why = database_problem(); !why.empty()) failed["database"] = why;
  if (auto why = smtp_queue_problem(); !why.empty()) failed["smtp_queue"] = why;
  if (auto why = ingest_queue_problem(); !why.empty()) failed["ingest_queue"] = why;
  if (failed.empty()) return json_response(200, {{"status", "ok"}});
  return json_response(503, {{"status", "failing"}, {"failed", failed}});
}

ingest::HttpResponse ServerHealth::readiness() const {
  if (!ready_) return json_response(503, {{"status", "not ready"}, {"reason", "starting or shutting down"}});
  if (auto why = database_problem(); !why.empty()) return json_response(503, {{"status", "not ready"}, {"reason", why}});
  return json_response(200, {{"status", "ready"}});
}

std::string ServerHealth::metrics() const {
  std::string out;
  struct statvfs fs {};
  if (::statvfs(data_.mail().c_str(), &fs) == 0) {
    append_metric(out, "umstore_store_disk_free_bytes", MetricType::Gauge,
                  "Bytes free for umstore on the mail file system.", std::uint64_t{fs.f_bavail} * fs.f_frsize);
    append_metric(out, "umstore_store_disk_size_bytes", MetricType::Gauge, "Size of the mail file system.",
                  std::uint64_t{fs.f_blocks} * fs.f_frsize);
  }
  return out;
}

}  // namespace umstore::app
