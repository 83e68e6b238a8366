#pragma once
// The store's counters for /metrics, process-wide (every folder of every
// store instance counts into them): appends, and the fsync latency common/
// measures for every durable write.
#include <string>

#include "common/metrics_text.hpp"

namespace umstore::mailstore {

struct StoreMetrics {
  Counter appends;        // messages added by APPEND, delivery or copy-in
  Counter append_bytes;
  Gauge mailboxes_in_memory;  // Maildir mailboxes whose indexes this process holds
};

StoreMetrics& store_metrics() noexcept;
// umstore_store_appends_total, umstore_store_append_bytes_total, umstore_store_fsync_seconds.
void append_store_metrics(std::string& out);

}  // namespace umstore::mailstore
