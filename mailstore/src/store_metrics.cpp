#include "mailstore/store_metrics.hpp"

#include "common/durable_file.hpp"

namespace umstore::mailstore {

StoreMetrics& store_metrics() noexcept {
  static StoreMetrics metrics;
  return metrics;
}

void append_store_metrics(std::string& out) {
  const StoreMetrics& m = store_metrics();
  append_metric(out, "umstore_store_appends_total", MetricType::Counter, "Messages appended to the store.",
                m.appends.value());
  append_metric(out, "umstore_store_append_bytes_total", MetricType::Counter, "Bytes of messages appended to the store.",
                m.append_bytes.value());
  append_metric(out, "umstore_store_mailboxes_in_memory", MetricType::Gauge,
                "Maildir mailboxes whose folder indexes this process holds in memory.",
                static_cast<double>(m.mailboxes_in_memory.value()));
  append_metric_header(out, "umstore_store_fsync_seconds", MetricType::Histogram,
                       "Time each fsync of a message, index or directory took.");
  fsync_latency().append_samples(out, "umstore_store_fsync_seconds", "");
}

}  // namespace umstore::mailstore
