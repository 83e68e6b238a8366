#include "imap/imap_metrics.hpp"

#include <algorithm>

namespace umstore::imap {

ImapMetrics::ImapMetrics(std::span<const std::string_view> commands)
    : names_(commands.begin(), commands.end()), latency_(std::make_unique<LatencyHistogram[]>(commands.size() + 1)) {
  names_.push_back("other");
}

LatencyHistogram& ImapMetrics::command(std::size_t index) noexcept {
  return latency_[std::min(index, names_.size() - 1)];
}

void ImapMetrics::append(std::string& out) const {
  append_metric(out, "umstore_imap_connections_total", MetricType::Counter, "IMAP connections served.",
                connections.value());
  append_metric(out, "umstore_imap_connections_open", MetricType::Gauge, "IMAP connections open now.",
                static_cast<std::uint64_t>(std::max<std::int64_t>(0, connections_open.value())));
  append_metric_header(out, "umstore_imap_logins_total", MetricType::Counter, "IMAP LOGIN and AUTHENTICATE, by result.");
  append_sample(out, "umstore_imap_logins_total", label("result", "ok"), logins_ok.value());
  append_sample(out, "umstore_imap_logins_total", label("result", "failed"), logins_failed.value());
  // Commands never used are left out: a scrape stays short.
  append_metric_header(out, "umstore_imap_commands_total", MetricType::Counter, "IMAP commands run, by name.");
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (const auto n = latency_[i].count(); n > 0)
      append_sample(out, "umstore_imap_commands_total", label("command", names_[i]), n);
  append_metric_header(out, "umstore_imap_command_duration_seconds", MetricType::Histogram,
                       "Time from an IMAP command's last octet to its tagged reply being queued, by name.");
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (latency_[i].count() > 0)
      latency_[i].append_samples(out, "umstore_imap_command_duration_seconds", label("command", names_[i]));
}

}  // namespace umstore::imap
