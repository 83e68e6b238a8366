#include "job_delivery.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "common/rfc5322_date.hpp"
#include "mailstore/mail_store.hpp"

namespace umstore::ingest {

namespace {

// Composed messages take the forms and folders their mailboxes ask for.
delivery::DeliverySettings composed_forms(const IngestQueueConfig& config) {
  delivery::DeliverySettings settings;
  settings.domain = config.settings.domain;
  settings.mailbox_profiles = config.mailbox_profiles;
  return settings;
}

}  // namespace

JobDelivery::JobDelivery(Parts parts) : parts_(parts), local_delivery_(parts.store, composed_forms(parts.config)) {}

JobDelivery::~JobDelivery() { stop(); }

void JobDelivery::on_final(IngestQueue::FinalListener listener) { listener_ = std::move(listener); }

void JobDelivery::start() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  for (unsigned i = 0; i < 2 * std::max(1u, parts_.config.workers); ++i)
    storers_.emplace_back([this] { store_handed_over(); });
}

void JobDelivery::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  storers_.clear();
}

// Workers compose (CPU) and hand each message to the storers, which write
// it to the mailbox and record the outcome (disk writes, fsyncs), so a
// worker composes the next recordings while the last ones are stored, and
// a batch's messages are stored side by side rather than one after the
// other. Job states on disk are the same either way: a composed message not
// yet stored when the process dies is composed again after a restart.
void JobDelivery::hand_over(ComposedJob&& composed) {
  const std::size_t limit =
      std::max<std::size_t>(2, std::size_t{parts_.config.batch_size} * std::max(1u, parts_.config.workers));
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return to_store_.size() < limit; });
    to_store_.push_back(std::move(composed));
  }
  changed_.notify_all();
}

void JobDelivery::fail(const std::string& id, const std::string& reason) { finish(id, IngestState::Failed, reason, 0); }

// The storers' loop: until stopped with nothing left to store.
void JobDelivery::store_handed_over() {
  for (;;) {
    std::optional<ComposedJob> next;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return !to_store_.empty() || stopping_; });
      if (to_store_.empty()) return;
      next.emplace(std::move(to_store_.front()));
      to_store_.pop_front();
    }
    changed_.notify_all();  // room for a waiting worker
    auto& [id, job, outcome] = *next;
    with_outcome_errors_logged(id, [&] {
      if (!outcome.message) return finish(id, IngestState::Failed, outcome.error, 0);
      deliver_and_finish(id, job, *outcome.message);
    });
    const std::string finished = id;
    next.reset();
    parts_.workers.job_finished(finished);
  }
}

void JobDelivery::deliver_and_finish(const std::string& id, const QueuedJob& job, ComposedMessage& message) {
  std::string by_enum;
  try {
    by_enum = enum_address(message.recipient_number);
  } catch (const std::exception& e) {
    return retry_or_fail(id, job, std::string("cannot look up the mailbox: ") + e.what());
  }
  if (!by_enum.empty()) return queue_for_enum(id, job, message, by_enum);
  try {
    // The forwarded copy is made from the composed message; without one,
    // the composed message itself becomes the stored form (no copy).
    const std::string forward_to = parts_.forwarding.address_for(message.recipient_number);
    const std::string composed = forward_to.empty() ? std::string() : message.rfc822;
    const auto result = store_message({id, "", message.recipient_number, job.source, std::move(message.rfc822)});
    if (const auto* stored = std::get_if<delivery::Stored>(&result)) {
      log(LogLevel::Info, kQueueLog, "delivered id={} {} to={} uid={}", id, message.summary, message.recipient_number,
          stored->uid);
      finish_delivered(id, job, composed, stored->uid, forward_to);
    } else if (const auto* failure = std::get_if<delivery::TemporaryFailure>(&result)) {
      if (!parts_.db.status(id))
        return log(LogLevel::Info, kQueueLog, "id={} was removed while it was composed: not delivered", id);
      retry_or_fail(id, job, failure->reason);  // over quota, a local error
    } else {
      finish(id, IngestState::Failed, std::get<delivery::SmtpRefusal>(result).text, 0);
    }
  } catch (const std::exception& e) {
    finish(id, IngestState::Failed, e.what(), 0);
  }
}

std::string JobDelivery::enum_address(const std::string& number) const {
  return parts_.config.enum_address && parts_.config.forward ? parts_.config.enum_address(number) : std::string();
}

// A number without a mailbox here, routed by ENUM ([enum] domains): the
// composed message goes into the SMTP queue for number@domain, whose runner
// asks ENUM for the number's E2U+vpim:mailto address (E2U+ifax:mailto for a
// fax) and sends it there as VPIM v2 (simple-mode IFAX), as it does for
// SMTP mail to such a number. The job is delivered once it is queued
// (durably); the DSNs that follow ("no VPIM route" among them) come back to
// it like a forwarded copy's. Queued again after a crash, the entry is not
// doubled (its id is the job's).
void JobDelivery::queue_for_enum(const std::string& id, const QueuedJob& job, const ComposedMessage& message,
                                 const std::string& address) {
  if (!parts_.db.status(id))
    return log(LogLevel::Info, kQueueLog, "id={} was removed while it was composed: not sent", id);
  try {
    parts_.config.forward(ForwardRequest{id, address, trace_headers(id, job) + message.rfc822});
  } catch (const std::exception& e) {
    return retry_or_fail(id, job, std::string("cannot queue the message for its ENUM route: ") + e.what());
  }
  log(LogLevel::Info, kQueueLog, "queued id={} {} to={} for its ENUM route", id, message.summary, address);
  finish(id, IngestState::Delivered, "", 0, address);
}

// The store step: the one place a composed message goes into a mailbox,
// through the local-delivery service (the mailbox's forms and folder,
// Return-Path, Received, X-Umstore-Ingest-Id). The attempt is recorded right
// before the store with the folder's UIDNEXT, so that recover_interrupted()
// can tell whether a crash came before or after it.
delivery::RecipientResult JobDelivery::store_message(const StoreRequest& request) {
  const std::string& number = request.recipient_number;
  const std::string& domain = parts_.config.settings.domain;
  const delivery::LocalRecipient to{number + "@" + domain, number};
  delivery::DeliveryRequest delivery_request{.key = request.ingest_id,
                                             .origin = delivery::MessageOrigin::Ingest,
                                             .sender = request.sender,
                                             .recipients = std::span(&to, 1),
                                             .message = request.message,
                                             .trace = {request.source, domain, "umstore ingest", ""}};
  delivery_request.on_storing = [&](std::string_view, std::string_view folder) {
    std::uint32_t uid_next = 1;  // a folder the store creates on delivery starts at UID 1
    try {
      uid_next = parts_.store.user(number)->open(folder)->status().uid_next;
    } catch (const mailstore::FolderNotFound&) {
    }
    if (!parts_.db.mark_delivering(request.ingest_id, uid_next))
      throw std::runtime_error("the job was removed while it was composed");
  };
  return local_delivery_.deliver(delivery_request).recipients.front();
}

std::string JobDelivery::trace_headers(const std::string& id, const QueuedJob& job) const {
  const std::string& domain = parts_.config.settings.domain;
  return "Received: from " + job.source + " by " + domain + " (umstore ingest) id " + id + "\r\n\tfor <" +
         job.recording.to_number + "@" + domain + ">; " + format_rfc5322_date(QueueClock::now()) +
         "\r\nX-Umstore-Ingest-Id: " + id + "\r\n";
}

// The copy for the mailbox's email address is queued before the job is
// recorded delivered, and forward() is idempotent per job, so a crash in
// between (recovered below) neither loses nor doubles it.
void JobDelivery::finish_delivered(const std::string& id, const QueuedJob& job, const std::string& composed,
                                   std::uint32_t uid, const std::string& forward_to) {
  if (!forward_to.empty()) parts_.forwarding.forward(id, forward_to, trace_headers(id, job) + composed);
  finish(id, IngestState::Delivered, "", uid, forward_to);
}

void JobDelivery::retry_or_fail(const std::string& id, const QueuedJob& job, const std::string& reason) {
  const auto age = std::chrono::milliseconds(now_ms() - job.accepted_ms);
  if (age >= parts_.config.max_age) return finish(id, IngestState::Failed, reason + " (gave up retrying)", 0);
  const auto& intervals = parts_.config.retry_intervals;
  const auto delay = intervals.empty() ? std::chrono::milliseconds(std::chrono::seconds(60))
                                       : intervals[std::min<std::size_t>(job.attempts, intervals.size() - 1)];
  log(LogLevel::Warning, kQueueLog, "id={} will be retried in {} ms: {}", id, delay.count(), reason);
  parts_.db.record_retry(id, reason, delay);
  parts_.workers.schedule(id, QueueClock::now() + delay, ComposeWorkers::Run::retry);
}

void JobDelivery::finish(const std::string& id, IngestState state, const std::string& reason, std::uint32_t uid,
                         const std::string& forwarded_to) {
  if (!parts_.db.record_outcome(id, {state, reason, uid, now_ms(), forwarded_to})) {
    log(LogLevel::Info, kQueueLog, "id={} was finished by another node already", id);
    return;
  }
  parts_.webhooks.wake();
  if (state == IngestState::Delivered) {
    ++parts_.metrics.delivered;
  } else {
    ++parts_.metrics.failed;
    log(LogLevel::Warning, kQueueLog, "failed id={}: {}", id, reason);
  }
  const auto final_status = parts_.db.status(id);
  if (!final_status) return;
  if (state == IngestState::Delivered)
    parts_.metrics.record_latency(final_status->finished_ms - final_status->accepted_ms);
  if (!listener_) return;
  try {
    listener_(*final_status);
  } catch (const std::exception& e) {
    log(LogLevel::Warning, kQueueLog, "id={}: final-status listener failed: {}", id, e.what());
  }
}

// A job marked delivering when the process died may or may not be in the
// mailbox: look for its X-Umstore-Ingest-Id among the messages that arrived
// since, so it is neither lost nor delivered twice.
void JobDelivery::recover_interrupted() {
  for (const auto& [id, number, uid_next] : parts_.db.interrupted_jobs()) {
    const std::uint32_t uid = find_delivered_uid(id, number, uid_next);
    if (uid == 0) {
      parts_.db.mark_queued(id);
      continue;
    }
    log(LogLevel::Info, kQueueLog, "id={} was delivered before the restart (UID {})", id, uid);
    finish_recovered(id, number, uid);
  }
}

// A job found in the mailbox after a crash may still owe its forwarded
// copy: it is made again from the recording.
void JobDelivery::finish_recovered(const std::string& id, const std::string& number, std::uint32_t uid) {
  try {
    auto job = parts_.db.load(id);
    const std::string forward_to = job ? parts_.forwarding.address_for(number) : std::string();
    if (!forward_to.empty()) {
      job->recording.file = parts_.db.read_media(id);
      return finish_delivered(id, *job, compose(job->recording, parts_.workers.settings()).rfc822, uid, forward_to);
    }
  } catch (const std::exception& e) {
    log(LogLevel::Error, kQueueLog, "id={}: cannot remake the forwarded copy: {}", id, e.what());
  }
  finish(id, IngestState::Delivered, "", uid);
}

std::uint32_t JobDelivery::find_delivered_uid(const std::string& id, const std::string& number,
                                              std::uint32_t uid_next) const {
  const std::string marker = "\r\nX-Umstore-Ingest-Id: " + id + "\r\n";
  // uid_next is the target folder's; in the others the marker cannot be.
  for (const std::string& name : candidate_folders(number)) {
    auto folder = parts_.store.user(number)->open(name);
    for (const auto& info : folder->snapshot()) {
      if (info.uid < uid_next) continue;
      auto data = folder->open_message(info.uid);
      if (!data) continue;
      const std::string_view bytes = data->bytes();
      const std::string_view head = bytes.substr(0, bytes.find("\r\n\r\n") + 2);
      if (head.find(marker) != std::string_view::npos) return info.uid;
    }
  }
  return 0;
}

delivery::MailboxProfile JobDelivery::profile_of(const std::string& number) const {
  return parts_.config.mailbox_profiles ? parts_.config.mailbox_profiles(number) : delivery::MailboxProfile{};
}

// Where the store step may have put a message for `number` (filing by kind).
std::vector<std::string> JobDelivery::candidate_folders(const std::string& number) const {
  const delivery::MailboxProfile profile = profile_of(number);
  if (!profile.file_by_kind) return {"INBOX"};
  std::vector<std::string> names{"INBOX"};
  for (const auto& entry : parts_.store.user(number)->list())
    if (entry.name == profile.voice_folder || entry.name == profile.fax_folder) names.push_back(entry.name);
  return names;
}

}  // namespace umstore::ingest
