#include "sip/sip_metrics.hpp"

namespace umstore::sip {

void SipMetrics::append(std::string& out, std::size_t active) const {
  append_metric(out, "umstore_sip_calls_active", MetricType::Gauge, "SIP calls in progress.",
                static_cast<std::uint64_t>(active));
  append_metric_header(out, "umstore_sip_calls_total", MetricType::Counter, "SIP calls, by outcome.");
  append_sample(out, "umstore_sip_calls_total", label("result", "answered"), calls_answered.value());
  append_sample(out, "umstore_sip_calls_total", label("result", "failed"), calls_failed.value());
  append_sample(out, "umstore_sip_calls_total", label("result", "cancelled"), calls_cancelled.value());
  append_metric_header(out, "umstore_sip_fax_pages_total", MetricType::Counter,
                       "Fax pages received, by whether the fax's T.30 session succeeded.");
  append_sample(out, "umstore_sip_fax_pages_total", label("result", "ok"), fax_pages_ok.value());
  append_sample(out, "umstore_sip_fax_pages_total", label("result", "failed"), fax_pages_failed.value());
  append_metric_header(out, "umstore_sip_faxes_sent_total", MetricType::Counter,
                       "Faxes sent from mail over SIP, by whether they went.");
  append_sample(out, "umstore_sip_faxes_sent_total", label("result", "sent"), faxes_sent.value());
  append_sample(out, "umstore_sip_faxes_sent_total", label("result", "not_sent"), faxes_not_sent.value());
  append_metric(out, "umstore_sip_fax_pages_sent_total", MetricType::Counter, "Fax pages sent from mail over SIP.",
                fax_pages_sent.value());
  append_metric(out, "umstore_sip_notifies_total", MetricType::Counter,
                "Message-summary NOTIFYs sent to subscribers (RFC 3842).", notifies.value());
}

}  // namespace umstore::sip
