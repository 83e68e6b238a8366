// The local-delivery service: see local_delivery.hpp for what it promises.
#include "delivery/local_delivery.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <mutex>
#include <set>

#include "common/log.hpp"
#include "common/rfc5322_date.hpp"
#include "quota_warning.hpp"
#include "spoken_notice.hpp"

namespace umstore::delivery {
namespace {

constexpr std::string_view kLog = "delivery";

// What one recipient's mailbox gets.
struct Copy {
  std::size_t index = 0;  // in the request's recipients
  std::string number;     // the mailbox (resolved for a drop address)
  std::string message;    // with the trace headers
  std::string folder = "INBOX";
};

std::string trace_headers(const DeliveryRequest& request) {
  std::string headers = "Return-Path: <" + std::string(request.sender) + ">\r\n";
  if (!request.trace.from.empty())
    headers += received_header(request.trace, request.key, request.recipients, std::chrono::system_clock::now());
  if (request.origin == MessageOrigin::Ingest) headers += "X-Umstore-Ingest-Id: " + std::string(request.key) + "\r\n";
  return headers;
}

MailboxProfile profile_for(const std::optional<DeliverySettings>& policy, std::string_view number) {
  return policy ? profile_of_mailbox(*policy, number) : MailboxProfile{};
}

void log_notes(const DeliveryRequest& request, std::string_view number, const std::vector<std::string>& notes) {
  for (const auto& note : notes) log(LogLevel::Info, kLog, "id={} to={}: {}", request.key, number, note);
}

// A drop address's mailbox, from the plan made for it, or the refusal.
std::variant<std::string, SmtpRefusal> mailbox_named_in_subject(const DeliveryPlan& plan,
                                                                const DeliverySettings& policy,
                                                                const LocalRecipient& recipient) {
  if (plan.mailbox.empty())
    return SmtpRefusal{550, "5.1.1",
                       recipient.address + " takes gateway voicemail emails naming their mailbox in the subject"};
  if (policy.mailbox_exists && !policy.mailbox_exists(plan.mailbox))
    return SmtpRefusal{550, "5.1.1", "mailbox " + plan.mailbox + " named in the subject does not exist here"};
  return plan.mailbox;
}

// Mail that arrived over SMTP, after the policy: the copy or the refusal.
std::variant<Copy, SmtpRefusal> plan_arrived(const DeliveryRequest& request, const LocalRecipient& recipient,
                                             std::string_view traced, const DeliverySettings& policy) {
  const InboundMessage in{traced, request.sender, recipient.address, std::chrono::system_clock::now()};
  Copy copy{0, recipient.number, {}, "INBOX"};
  DeliveryPlan plan = plan_local_delivery(in, profile_of_mailbox(policy, recipient.number), policy);
  if (recipient.number == kMailboxFromSubject) {
    auto mailbox = mailbox_named_in_subject(plan, policy, recipient);
    if (auto* refusal = std::get_if<SmtpRefusal>(&mailbox)) return std::move(*refusal);
    copy.number = std::get<std::string>(std::move(mailbox));
    plan = plan_local_delivery(in, profile_of_mailbox(policy, copy.number), policy);  // its forms and folders
  }
  if (plan.refusal) return std::move(*plan.refusal);
  log_notes(request, copy.number, plan.notes);
  copy.message = std::move(plan.message);
  copy.folder = std::move(plan.folder);
  return copy;
}

// Every recipient's copy, or the first refusal (which refuses the message).
std::variant<std::vector<Copy>, SmtpRefusal> plan_copies(const DeliveryRequest& request,
                                                         const std::optional<DeliverySettings>& policy) {
  const std::string headers = trace_headers(request);
  std::vector<Copy> copies;
  for (std::size_t i = 0; i < request.recipients.size(); ++i) {
    const LocalRecipient& recipient = request.recipients[i];
    if (request.origin == MessageOrigin::Ingest) {
      MailboxForm form = form_for_mailbox(request.message, profile_for(policy, recipient.number),
                                          policy ? policy->max_playable_seconds : 3600);
      log_notes(request, recipient.number, form.notes);
      copies.push_back({i, recipient.number, headers + form.message, std::move(form.folder)});
      continue;
    }
    std::string traced = headers + std::string(request.message);
    if (!policy) {
      copies.push_back({i, recipient.number, std::move(traced), "INBOX"});
      continue;
    }
    auto planned = plan_arrived(request, recipient, traced, *policy);
    if (auto* refusal = std::get_if<SmtpRefusal>(&planned)) return std::move(*refusal);
    copies.push_back(std::get<Copy>(std::move(planned)));
    copies.back().index = i;
  }
  return copies;
}

// `key` as a whole word in the header block: our Received ("id KEY"),
// X-Umstore-Ingest-Id or a DSN's Message-ID.
bool head_names(std::string_view message, std::string_view key) {
  const std::string_view head = message.substr(0, message.find("\r\n\r\n"));
  const auto is_word = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  };
  for (auto at = head.find(key); at != std::string_view::npos; at = head.find(key, at + 1)) {
    const auto end = at + key.size();
    if ((at == 0 || !is_word(head[at - 1])) && (end == head.size() || !is_word(head[end]))) return true;
  }
  return false;
}

// The UID of a copy an interrupted attempt stored under `key`; newest first,
// as that is where it is.
std::optional<std::uint32_t> find_earlier(mailstore::MailStore& store, const Copy& copy, std::string_view key) {
  try {
    auto folder = store.user(copy.number)->open(copy.folder);
    auto messages = folder->snapshot();
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
      auto data = folder->open_message(it->uid);
      if (data && head_names(data->bytes(), key)) return it->uid;
    }
  } catch (const mailstore::FolderNotFound&) {
    // Not created yet: nothing was stored there.
  }
  return std::nullopt;
}

// The mailbox's \Junk folder, made when it has none.
std::string junk_folder(mailstore::MailStore& store, std::string_view number) {
  constexpr std::string_view kJunk = "Junk";
  const auto mailbox = store.user(number);
  for (const auto& entry : mailbox->list())
    if (entry.special_use == mailstore::SpecialUse::Junk) return entry.name;
  try {
    mailbox->create(kJunk, mailstore::SpecialUse::Junk);
  } catch (const mailstore::FolderExists&) {
    // A folder named Junk without the attribute (made by a client): still the one meant.
  }
  return std::string(kJunk);
}

// The first copy its mailbox cannot take (by bytes, messages or seconds of
// voice), or nullptr; `limited` gets the mailboxes that have a limit.
const Copy* first_over_quota(mailstore::MailStore& store, std::span<const Copy> copies,
                             std::set<std::string>& limited) {
  for (const auto& copy : copies) {
    const auto usage = store.user(copy.number)->quota();
    if (usage.limit_bytes || usage.limit_messages || usage.limit_seconds) limited.insert(copy.number);
    if (mailstore::first_exceeded(usage, mailstore::quota_charge(copy.message))) return &copy;
  }
  return nullptr;
}

// Deliveries to one mailbox take turns between storing and reading the
// usage after, so two of them never both see the same threshold crossed
// (within this process).
std::mutex& mailbox_turn(std::string_view number) {
  static std::array<std::mutex, 64> stripes;
  return stripes[std::hash<std::string_view>{}(number) % stripes.size()];
}

// After a copy was stored: the warning when it took the mailbox past 80% or 95%.
void warn_if_crossed(mailstore::MailStore& store, const Copy& copy, std::string_view host) try {
  const auto usage = store.user(copy.number)->quota();
  const auto warning = crossed_threshold(usage, mailstore::quota_charge(copy.message));
  if (!warning) return;
  // Voice users (a minutes limit, or voice stored) also hear it.
  const bool voice = usage.limit_seconds != 0 || usage.seconds != 0;
  const auto spoken = voice ? spoken_notice(spoken_warning(*warning)) : std::nullopt;
  const auto uid = store.deliver_notice(copy.number, quota_warning_message(copy.number, *warning, host, spoken));
  log(LogLevel::Info, kLog, "to={}: quota warning, {}% of {} {} used (uid={})", copy.number, warning->threshold,
      warning->level.limit, mailstore::unit_name(warning->level.resource), uid);
} catch (const std::exception& e) {
  log(LogLevel::Warning, kLog, "to={}: the quota warning was not stored: {}", copy.number, e.what());
}

void log_failure(const DeliveryRequest& request, std::string_view number, std::string_view error) {
  log(LogLevel::Warning, kLog, "delivery id={} from=<{}> to={} size={} failed: {}", request.key, request.sender, number,
      request.message.size(), error);
}

// The same result for every recipient not stored yet.
void fail_rest(DeliveryResult& result, const RecipientResult& failure) {
  for (auto& r : result.recipients)
    if (!std::holds_alternative<Stored>(r)) r = failure;
}

}  // namespace

std::string received_header(const Trace& trace, std::string_view id, std::span<const LocalRecipient> recipients,
                            std::chrono::system_clock::time_point when) {
  std::string header = "Received: from " + trace.from + "\r\n\tby " + trace.by + " (" + trace.agent + ")";
  if (!trace.protocol.empty()) header += " with " + trace.protocol;
  header += " id " + std::string(id) + "\r\n\t";
  if (recipients.size() == 1) header += "for <" + recipients.front().address + ">";
  return header + "; " + format_rfc5322_date(when) + "\r\n";
}

bool DeliveryResult::all_stored() const {
  return std::all_of(recipients.begin(), recipients.end(),
                     [](const RecipientResult& r) { return std::holds_alternative<Stored>(r); });
}

LocalDelivery::LocalDelivery(mailstore::MailStore& store, std::optional<DeliverySettings> policy)
    : store_(store), policy_(std::move(policy)) {}

DeliveryResult LocalDelivery::deliver(const DeliveryRequest& request) const {
  using Cause = TemporaryFailure::Cause;
  DeliveryResult result;
  result.recipients.assign(request.recipients.size(), TemporaryFailure{Cause::LocalError, "not attempted"});
  std::string current = request.recipients.empty() ? std::string() : request.recipients.front().number;
  try {
    auto planned = plan_copies(request, policy_);
    if (auto* refusal = std::get_if<SmtpRefusal>(&planned)) {
      log_failure(request, current, refusal->text);
      fail_rest(result, *refusal);
      return result;
    }
    auto& copies = std::get<std::vector<Copy>>(planned);
    if (request.filing == Filing::Quarantine)
      for (auto& copy : copies) copy.folder = junk_folder(store_, copy.number);
    // A store that keeps delivery keys finds earlier copies itself (deliver_once).
    if (request.after_interruption && !store_.keeps_delivery_keys()) {
      std::erase_if(copies, [&](const Copy& copy) {
        const auto uid = find_earlier(store_, copy, request.key);
        if (!uid) return false;
        log(LogLevel::Info, kLog, "delivery id={} to={} was stored before an interruption (UID {})", request.key,
            copy.number, *uid);
        result.recipients[copy.index] = Stored{copy.number, copy.folder, *uid, true};
        return true;
      });
    }
    std::set<std::string> limited;
    if (const Copy* full = first_over_quota(store_, copies, limited)) {
      log_failure(request, full->number, "over quota");
      fail_rest(result, TemporaryFailure{Cause::OverQuota, "mailbox " + full->number + " is over its quota"});
      return result;
    }
    for (const auto& copy : copies) {
      current = copy.number;
      if (request.on_storing) request.on_storing(copy.number, copy.folder);
      const bool warns = limited.count(copy.number) != 0;
      std::unique_lock turn(mailbox_turn(copy.number), std::defer_lock);
      if (warns) turn.lock();
      const auto stored = request.key.empty()
                              ? mailstore::DeliveredCopy{store_.deliver(copy.number, copy.message, copy.folder), copy.folder}
                              : store_.deliver_once(copy.number, copy.message, copy.folder, request.key);
      if (warns && !stored.earlier) warn_if_crossed(store_, copy, request.trace.by);
      result.recipients[copy.index] = Stored{copy.number, stored.folder, stored.uid, stored.earlier};
      if (stored.earlier)
        log(LogLevel::Info, kLog, "delivery id={} to={} was stored before (folder={} uid={}): not stored again",
            request.key, copy.number, stored.folder, stored.uid);
      else
        log(LogLevel::Info, kLog, "delivery id={} from=<{}> to={} folder={} size={} uid={}", request.key,
            request.sender, copy.number, copy.folder, copy.message.size(), stored.uid);
    }
  } catch (const mailstore::QuotaExceeded& e) {
    // Another delivery filled the mailbox since the check above.
    log_failure(request, current, e.what());
    fail_rest(result, TemporaryFailure{Cause::OverQuota, "mailbox " + current + " is over its quota"});
  } catch (const std::exception& e) {
    log_failure(request, current, e.what());
    fail_rest(result, TemporaryFailure{Cause::LocalError, "local error while storing the message for " + current});
  }
  return result;
}

}  // namespace umstore::delivery
