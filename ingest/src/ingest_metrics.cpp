#include "ingest_metrics.hpp"

namespace umstore::ingest {

void IngestMetrics::record_latency(std::int64_t ms) {
  const double seconds = static_cast<double>(ms) / 1000.0;
  std::lock_guard lock(latency_mutex_);
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i)
    if (seconds <= kLatencyBounds[i]) ++latency_buckets_[i];
  ++latency_count_;
  latency_sum_ += seconds;
}

IngestCounters IngestMetrics::snapshot(std::uint64_t depth, std::uint64_t webhooks_pending) const {
  IngestCounters c;
  c.accepted = accepted;
  c.duplicates = duplicates;
  c.delivered = delivered;
  c.failed = failed;
  c.depth = depth;
  c.webhooks_sent = webhooks_sent;
  c.webhooks_failed = webhooks_failed;
  c.webhooks_pending = webhooks_pending;
  std::lock_guard lock(latency_mutex_);
  c.latency_bounds.assign(kLatencyBounds.begin(), kLatencyBounds.end());
  c.latency_buckets.assign(latency_buckets_.begin(), latency_buckets_.end());
  c.latency_count = latency_count_;
  c.latency_sum = latency_sum_;
  return c;
}

}  // namespace umstore::ingest
