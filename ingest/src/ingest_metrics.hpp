#pragma once
// The ingest queue's counters for /metrics, monotonic since the process
// started, and the accept-to-delivery latency histogram. Thread-safe and
// lock-free: storer threads count while a scrape reads.
#include <atomic>
#include <cstdint>

#include "common/metrics_text.hpp"
#include "ingest/ingest_queue.hpp"

namespace umstore::ingest {

class IngestMetrics {
 public:
  std::atomic<std::uint64_t> accepted{0}, duplicates{0}, delivered{0}, failed{0};
  std::atomic<std::uint64_t> webhooks_sent{0}, webhooks_failed{0};

  void record_latency(std::int64_t ms) noexcept { latency_.observe(static_cast<double>(ms) / 1000.0); }
  // The counters, with the figures only the queue knows.
  IngestCounters snapshot(std::uint64_t depth, std::uint64_t webhooks_pending) const;

 private:
  LatencyHistogram latency_;
};

}  // namespace umstore::ingest
