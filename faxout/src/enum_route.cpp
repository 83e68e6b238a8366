// ENUM before the telephone network (RFC 4143): a number whose owner
// publishes an E2U+ifax:mailto address gets the fax as a simple-mode
// Internet fax (RFC 3965) through the SMTP queue, which then owns it (its
// retries, its DSNs to the sender); a number without one is dialled.
#include "faxout/fax_dialler.hpp"

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "delivery/destination_profile.hpp"
#include "mime/voice_message.hpp"
#include "smtp/delivery_queue.hpp"

namespace umstore::faxout {
namespace {

constexpr std::string_view kLog = "fax";

}  // namespace

void FaxDialler::look_up(const FaxJob& job) {
  in_flight_.insert(job.id);
  lookups_[job.id] = std::jthread([inbox = inbox_, lookup = config_.enum_routing.lookup, id = job.id,
                                   number = job.number] {
    Finished done{id, {}, std::nullopt};
    try {
      done.enum_answer = lookup->find(number, dns::kIfaxService);
    } catch (const std::exception& e) {
      done.enum_answer = dns::EnumAnswer{dns::EnumStatus::temporary_failure, "", "", 0, e.what()};
    }
    {
      std::lock_guard lock(inbox->mutex);
      inbox->finished.push_back(std::move(done));
    }
    inbox->wakeup.notify_all();
  });
}

bool FaxDialler::routed_by_enum(FaxJob& job, const dns::EnumAnswer& answer) {
  const auto& routing = config_.enum_routing;
  if (answer.status == dns::EnumStatus::temporary_failure) {
    // Counted as an attempt, so a DNS outage cannot keep a fax forever.
    ++job.attempts;
    job.last_call = CallReport{"unreachable", 0, "ENUM could not be asked: " + answer.reason, "", 0, "",
                               std::chrono::milliseconds(0), false, Clock::now()};
    retry_or_fail(job, true);
    return true;
  }
  const auto address = answer.status == dns::EnumStatus::found ? dns::mailto_address(answer.uri) : std::nullopt;
  if (!address) return false;

  const auto tiff = read_file_bytes(jobs_.pages(job.id));
  jobs_.release_pages(job.id);
  mime::FaxMessageInput in;
  in.domain = routing.domain;
  in.caller.number = job.user;
  in.recipient.address = *address;
  in.received = Clock::now();
  in.tiff = tiff;
  in.pages = job.pages;
  in.message_id_hint = job.id;
  in.form = mime::FaxForm::ifax;
  if (!job.sender.empty()) in.options.originator = mime::Recipient{job.sender, ""};

  smtp::QueuedEnvelope envelope;
  envelope.id = smtp::new_queue_id();
  envelope.sender = job.sender;
  envelope.ret = job.ret;
  envelope.envid = job.envid;
  envelope.received_from = job.received_from;
  envelope.arrival = job.arrival;  // the SMTP queue's max_age counts from when the sender sent it
  envelope.next_attempt = Clock::now();
  smtp::QueuedRecipient to;
  to.address = *address;
  // DSNs name what the sender wrote.
  to.orcpt = job.orcpt.empty() ? "rfc822;" + smtp::xtext_encode(job.address) : job.orcpt;
  to.notify = job.notify;
  // The pure form: the record says an Internet fax system takes it.
  to.profile = std::string(delivery::to_string(delivery::DestinationProfile::vpim));
  envelope.recipients.push_back(std::move(to));
  routing.relay(envelope, mime::compose_fax_message(in));
  log(LogLevel::Info, kLog, "id={} to={}: ENUM {} names {}: sent as an Internet fax, queued as {}", job.id,
      job.number, answer.domain, *address, envelope.id);
  job.state = JobState::relayed;
  job.relayed_to = *address;
  archive(job);
  return true;
}

}  // namespace umstore::faxout
