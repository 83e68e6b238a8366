#include "smtp/smtp_metrics.hpp"

#include <algorithm>

namespace umstore::smtp {
namespace {

// Envelopes read per scrape for the oldest age: ids sort by arrival, so
// the oldest is among the first (forwarded copies' ids sort apart).
constexpr std::size_t kEnvelopesRead = 100;

constexpr std::array<std::string_view, 4> kDeliveryResults = {"delivered", "relayed", "deferred", "failed"};

}  // namespace

void ReplyCodeCounters::append_samples(std::string& out, std::string_view name) const {
  for (std::size_t i = 0; i < counters_.size(); ++i)
    if (const auto n = counters_[i].value(); n > 0)
      append_sample(out, name, label("code", std::to_string(kFirst + static_cast<int>(i))), n);
}

void SmtpMetrics::append(std::string& out, const DeliveryQueue& queue) const {
  append_metric(out, "umstore_smtp_sessions_total", MetricType::Counter, "SMTP connections served.", sessions.value());
  append_metric(out, "umstore_smtp_sessions_open", MetricType::Gauge, "SMTP connections open now.",
                static_cast<std::uint64_t>(std::max<std::int64_t>(0, sessions_open.value())));
  append_metric_header(out, "umstore_smtp_messages_total", MetricType::Counter,
                       "Messages at the end of DATA or BDAT, by the reply code (2xx accepted, 4xx/5xx refused).");
  messages.append_samples(out, "umstore_smtp_messages_total");
  append_metric_header(out, "umstore_smtp_replies_total", MetricType::Counter, "SMTP replies sent, by code.");
  replies.append_samples(out, "umstore_smtp_replies_total");

  append_metric_header(out, "umstore_smtp_delivery_attempts_total", MetricType::Counter,
                       "Queue delivery attempts per recipient, by result.");
  for (std::size_t i = 0; i < deliveries.size(); ++i)
    append_sample(out, "umstore_smtp_delivery_attempts_total", label("result", kDeliveryResults[i]),
                  deliveries[i].value());
  append_metric_header(out, "umstore_smtp_dsn_recipients_total", MetricType::Counter,
                       "Recipients reported in delivery status notifications, by action.");
  for (std::size_t i = 0; i < dsns.size(); ++i)
    append_sample(out, "umstore_smtp_dsn_recipients_total", label("action", action_name(static_cast<DsnAction>(i))),
                  dsns[i].value());

  const auto ids = queue.ids();
  append_metric(out, "umstore_smtp_queue_messages", MetricType::Gauge,
                "Messages in the SMTP delivery queue (relay, DSNs, forwarded copies).",
                static_cast<std::uint64_t>(ids.size()));
  double oldest = 0;
  const auto now = Clock::now();
  for (std::size_t i = 0; i < ids.size() && i < kEnvelopesRead; ++i)
    if (const auto envelope = queue.envelope(ids[i]))
      oldest = std::max(oldest, std::chrono::duration<double>(now - envelope->arrival).count());
  append_metric(out, "umstore_smtp_queue_oldest_seconds", MetricType::Gauge,
                "Age of the oldest message in the SMTP delivery queue (0 when empty).", oldest);
}

}  // namespace umstore::smtp
