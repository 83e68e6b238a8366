#include "forwarding.hpp"

#include <map>

#include "common/ascii.hpp"
#include "common/log.hpp"
#include "mime/dsn_report.hpp"
#include "queued_job.hpp"

namespace umstore::ingest {

std::optional<std::pair<std::string, DeliveryReport>> parse_delivery_report(std::string_view message) {
  const auto parsed = mime::parse_delivery_status(message);
  if (!parsed || parsed->recipients.empty()) return std::nullopt;
  auto value = [](const std::map<std::string, std::string>& fields, const char* name) {
    const auto it = fields.find(name);
    return it == fields.end() ? std::string() : it->second;
  };
  const std::string envid = value(parsed->message_fields, "original-envelope-id");
  const auto& first = parsed->recipients.front();
  DeliveryReport report{ascii_lower(value(first, "action")), value(first, "status"), value(first, "diagnostic-code"),
                        value(first, "final-recipient"), value(first, "remote-mta")};
  if (envid.empty() || report.action.empty()) return std::nullopt;
  return std::pair{envid, report};
}

Forwarding::Forwarding(const IngestQueueConfig& config, JobStore& db, WebhookSender& webhooks)
    : config_(config), db_(db), webhooks_(webhooks) {}

std::string Forwarding::address_for(const std::string& number) const {
  if (!config_.forward_address || !config_.forward) return {};
  try {
    return config_.forward_address(number);
  } catch (const std::exception& e) {
    log(LogLevel::Error, kQueueLog, "cannot look up the forwarding address of {}: {}", number, e.what());
    return {};
  }
}

void Forwarding::forward(const std::string& id, const std::string& to, std::string message) {
  try {
    config_.forward(ForwardRequest{id, to, std::move(message)});
    log(LogLevel::Info, kQueueLog, "forwarding id={} to={} (ENVID {})", id, to, id);
  } catch (const std::exception& e) {
    log(LogLevel::Error, kQueueLog, "id={}: cannot queue the copy for {}: {}", id, to, e.what());
    db_.set_reason(id, "the copy for " + to + " could not be queued: " + e.what());
  }
}

bool Forwarding::apply_report(std::string_view message) {
  const auto report = parse_delivery_report(message);
  if (!report) return false;
  const auto& [envid, fields] = *report;
  const auto job = db_.status(envid);
  if (!job) return false;
  ReportUpdate update;
  update.report = fields;
  update.failure = fields.action == "failed";
  update.reason = "forwarding to " + (job->forwarded_to.empty() ? fields.final_recipient : job->forwarded_to) +
                  " failed: " + (fields.diagnostic_code.empty() ? fields.status : fields.diagnostic_code);
  // A delay is news but not an outcome; the gateway hears of outcomes.
  update.owes_webhook = fields.action != "delayed";
  db_.record_report(envid, update);
  log(LogLevel::Info, kQueueLog, "DSN for id={}: action={} status={} {}", envid, fields.action, fields.status,
      fields.diagnostic_code);
  webhooks_.wake();
  return true;
}

}  // namespace umstore::ingest
