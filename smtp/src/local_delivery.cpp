#include "local_delivery.hpp"


#include "common/log.hpp"

namespace umstore::smtp {
namespace {

constexpr std::string_view kLog = "smtp";

std::string join_numbers(std::span<const LocalRecipient> recipients) {
  std::string out;
  for (const auto& r : recipients) out += (out.empty() ? "" : ", ") + r.number;
  return out;
}

// The first mailbox that cannot take the message, or nullptr.
const LocalRecipient* first_over_quota(mailstore::MailStore& store, const DeliveryJob& job) {
  for (const auto& recipient : job.recipients) {
    auto usage = store.user(recipient.number)->quota();
    if (usage.limit_bytes != 0 && usage.bytes + job.message.size() > usage.limit_bytes) return &recipient;
  }
  return nullptr;
}

void log_failure(const DeliveryJob& job, const LocalRecipient& recipient, std::string_view error) {
  log(LogLevel::Warning, kLog, "delivery id={} from={} to={} size={} failed: {}", job.queue_id, job.sender,
      recipient.number, job.received_octets, error);
}

SmtpReplyText quota_reply(const DeliveryJob& job, std::string_view full_number, std::span<const LocalRecipient> done) {
  std::string text = "mailbox " + std::string(full_number) + " is over its quota, try again later";
  if (!done.empty()) text += " (already delivered to " + join_numbers(done) + ")";
  else if (job.recipients.size() > 1) text += "; not delivered to any of " + join_numbers(job.recipients);
  return {452, "4.2.2", text};
}

}  // namespace

SmtpReplyText deliver_locally(mailstore::MailStore& store, const DeliveryJob& job) {
  std::size_t delivered = 0;
  try {
    if (const auto* full = first_over_quota(store, job)) {
      log_failure(job, *full, "over quota");
      return quota_reply(job, full->number, {});
    }
    for (const auto& recipient : job.recipients) {
      auto uid = store.deliver(recipient.number, job.message);
      ++delivered;
      log(LogLevel::Info, kLog, "delivery id={} from={} to={} size={} uid={}", job.queue_id, job.sender,
          recipient.number, job.received_octets, uid);
    }
  } catch (const mailstore::QuotaExceeded& e) {
    // Another delivery filled the mailbox since the check above.
    log_failure(job, job.recipients[delivered], e.what());
    return quota_reply(job, job.recipients[delivered].number, job.recipients.first(delivered));
  } catch (const std::exception& e) {
    log_failure(job, job.recipients[delivered], e.what());
    std::string text = "local error while storing the message for " + job.recipients[delivered].number +
                       ", try again later";
    if (delivered > 0) text += " (already delivered to " + join_numbers(job.recipients.first(delivered)) + ")";
    return {451, "4.3.0", text};
  }
  return {250, "2.0.0", "OK: queued as " + std::string(job.queue_id)};
}

}  // namespace umstore::smtp
