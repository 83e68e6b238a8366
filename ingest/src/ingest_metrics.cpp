#include "ingest_metrics.hpp"

namespace umstore::ingest {

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
  const auto latency = latency_.snapshot();
  c.latency_bounds.assign(LatencyHistogram::kBounds.begin(), LatencyHistogram::kBounds.end());
  c.latency_buckets.assign(latency.cumulative.begin(), latency.cumulative.end());
  c.latency_count = latency.count;
  c.latency_sum = latency.sum;
  return c;
}

}  // namespace umstore::ingest
