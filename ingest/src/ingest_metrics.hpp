#pragma once
// The ingest queue's counters for /metrics, monotonic since the process
// started, and the accept-to-delivery latency histogram. Thread-safe.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "ingest/ingest_queue.hpp"

namespace umstore::ingest {

class IngestMetrics {
 public:
  std::atomic<std::uint64_t> accepted{0}, duplicates{0}, delivered{0}, failed{0};
  std::atomic<std::uint64_t> webhooks_sent{0}, webhooks_failed{0};

  void record_latency(std::int64_t ms);
  // The counters, with the figures only the queue knows.
  IngestCounters snapshot(std::uint64_t depth, std::uint64_t webhooks_pending) const;

 private:
  // Seconds, ascending: the histogram's "le" bounds.
  static constexpr std::array<double, 12> kLatencyBounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  mutable std::mutex latency_mutex_;
  std::array<std::uint64_t, kLatencyBounds.size()> latency_buckets_{};  // cumulative counts per bound
  std::uint64_t latency_count_ = 0;
  double latency_sum_ = 0;
};

}  // namespace umstore::ingest
