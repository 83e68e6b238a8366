#include "local_delivery.hpp"

#include <chrono>
#include <optional>
#include <variant>
#include <vector>

#include "common/log.hpp"

namespace umstore::smtp {
namespace {

constexpr std::string_view kLog = "smtp";

std::string join_numbers(std::span<const LocalRecipient> recipients) {
  std::string out;
  for (const auto& r : recipients) out += (out.empty() ? "" : ", ") + r.number;
  return out;
}

// What one recipient's mailbox gets, after the delivery policy.
struct PlannedCopy {
  LocalRecipient recipient;
  std::string message;  // empty: the job's message as it came
  std::string folder = "INBOX";
  std::string_view bytes(const DeliveryJob& job) const { return message.empty() ? job.message : message; }
};

std::string_view without_brackets(std::string_view path) {
  if (path.size() >= 2 && path.front() == '<' && path.back() == '>') return path.substr(1, path.size() - 2);
  return path;
}

// A drop address's mailbox, from the plan made for it; nullopt after filling `refusal`.
std::optional<std::string> mailbox_named_in_subject(const delivery::DeliveryPlan& plan,
                                                    const delivery::DeliverySettings& policy,
                                                    const LocalRecipient& recipient, SmtpReplyText& refusal) {
  if (plan.mailbox.empty()) {
    refusal = {550, "5.1.1", recipient.address + " takes gateway voicemail emails naming their mailbox in the subject"};
    return std::nullopt;
  }
  if (policy.mailbox_exists && !policy.mailbox_exists(plan.mailbox)) {
    refusal = {550, "5.1.1", "mailbox " + plan.mailbox + " named in the subject does not exist here"};
    return std::nullopt;
  }
  return plan.mailbox;
}

// One recipient's copy, or the policy's refusal of the message.
std::variant<PlannedCopy, SmtpReplyText> plan_copy(const DeliveryJob& job, const LocalRecipient& recipient) {
  PlannedCopy copy{recipient, {}, "INBOX"};
  if (!job.policy) return copy;
  const delivery::DeliverySettings& policy = *job.policy;
  const delivery::InboundMessage in{job.message, without_brackets(job.sender), recipient.address,
                                    std::chrono::system_clock::now()};
  delivery::DeliveryPlan plan = delivery::plan_local_delivery(in, delivery::profile_of_mailbox(policy, recipient.number), policy);
  if (recipient.number == kMailboxFromSubject) {
    SmtpReplyText refusal;
    const auto mailbox = mailbox_named_in_subject(plan, policy, recipient, refusal);
    if (!mailbox) return refusal;
    copy.recipient.number = *mailbox;
    plan = delivery::plan_local_delivery(in, delivery::profile_of_mailbox(policy, *mailbox), policy);  // its forms and folders
  }
  if (plan.refusal) return SmtpReplyText{plan.refusal->reply_code, plan.refusal->enhanced_status, plan.refusal->text};
  for (const auto& note : plan.notes)
    log(LogLevel::Info, kLog, "delivery id={} to={}: {}", job.queue_id, copy.recipient.number, note);
  if (plan.message != job.message) copy.message = std::move(plan.message);
  copy.folder = std::move(plan.folder);
  return copy;
}

// Plans every copy, or returns the first refusal.
std::variant<std::vector<PlannedCopy>, SmtpReplyText> plan_copies(const DeliveryJob& job) {
  std::vector<PlannedCopy> copies;
  for (const auto& recipient : job.recipients) {
    auto planned = plan_copy(job, recipient);
    if (auto* refusal = std::get_if<SmtpReplyText>(&planned)) return std::move(*refusal);
    copies.push_back(std::move(std::get<PlannedCopy>(planned)));
  }
  return copies;
}

// The first mailbox that cannot take its copy, or nullptr.
const LocalRecipient* first_over_quota(mailstore::MailStore& store, const DeliveryJob& job,
                                       std::span<const PlannedCopy> copies) {
  for (const auto& copy : copies) {
    auto usage = store.user(copy.recipient.number)->quota();
    if (usage.limit_bytes != 0 && usage.bytes + copy.bytes(job).size() > usage.limit_bytes) return &copy.recipient;
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
    auto planned = plan_copies(job);
    if (auto* refusal = std::get_if<SmtpReplyText>(&planned)) {
      log_failure(job, job.recipients.front(), refusal->text);
      return *refusal;
    }
    const auto& copies = std::get<std::vector<PlannedCopy>>(planned);
    if (const auto* full = first_over_quota(store, job, copies)) {
      log_failure(job, *full, "over quota");
      return quota_reply(job, full->number, {});
    }
    for (const auto& copy : copies) {
      auto uid = store.deliver(copy.recipient.number, copy.bytes(job), copy.folder);
      ++delivered;
      log(LogLevel::Info, kLog, "delivery id={} from={} to={} folder={} size={} uid={}", job.queue_id, job.sender,
          copy.recipient.number, copy.folder, job.received_octets, uid);
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
