#pragma once
// What the IMAP server counts for /metrics: connections, logins, and each
// command by name with its latency. Lock-free: sessions bump atomics.
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics_text.hpp"

namespace umstore::imap {

class ImapMetrics {
 public:
  // `commands`: the names the server knows (literals); any other counts as "other".
  explicit ImapMetrics(std::span<const std::string_view> commands);

  Counter connections;
  Gauge connections_open;
  Counter logins_ok;
  Counter logins_failed;

  // The latency (and so the count) of command `index` as in the
  // constructor's list; past its end: "other".
  LatencyHistogram& command(std::size_t index) noexcept;
  // umstore_imap_* lines.
  void append(std::string& out) const;

 private:
  std::vector<std::string_view> names_;  // plus "other" at the end
  std::unique_ptr<LatencyHistogram[]> latency_;
};

}  // namespace umstore::imap
