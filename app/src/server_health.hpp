#pragma once
// What GET /healthz, GET /readyz and the disk lines of GET /metrics report
// for a running server. Each check does what its name claims: the data
// directory is written (a file fsynced, renamed and removed), the account
// database answers a query, and the queues move.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "ingest/http_api.hpp"
#include "settings.hpp"

namespace umstore::mailstore { class AccountStore; }
namespace umstore::smtp { class DeliveryQueue; }
namespace umstore::ingest { class IngestQueue; }

namespace umstore::app {

class ServerHealth {
 public:
  // A queue counts as stuck when work waits this long with nothing done.
  static constexpr std::chrono::minutes kStuckAfter{10};

  ServerHealth(const DataLayout& data, const mailstore::AccountStore& accounts, const smtp::DeliveryQueue& smtp_queue,
               const ingest::IngestQueue& ingest_queue);

  // 200 {"status":"ok"}, else 503 {"status":"failing","failed":{"check":"why",...}}.
  ingest::HttpResponse health();
  // 200 {"status":"ready"} once every listener runs and until shutdown
  // starts (and the account database answers), else 503.
  ingest::HttpResponse readiness() const;
  void set_ready(bool ready) noexcept;
  // Prometheus lines: disk free and size under the data directory.
  std::string metrics() const;

 private:
  std::string store_problem() const;
  std::string database_problem() const;
  std::string smtp_queue_problem() const;
  std::string ingest_queue_problem();

  DataLayout data_;
  const mailstore::AccountStore& accounts_;
  const smtp::DeliveryQueue& smtp_queue_;
  const ingest::IngestQueue& ingest_queue_;
  std::atomic<bool> ready_{false};
  std::mutex mutex_;  // the ingest progress seen by the last check
  std::uint64_t ingest_done_ = 0;
  std::chrono::steady_clock::time_point ingest_progress_at_ = std::chrono::steady_clock::now();
};

}  // namespace umstore::app
