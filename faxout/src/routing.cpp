// Where a fax goes before it is dialled. ENUM before the telephone network
// (RFC 4143): a number whose owner publishes an E2U+ifax:mailto address
// gets the fax as a simple-mode Internet fax (RFC 3965) through the SMTP
// queue, which then owns it (its retries, its DSNs to the sender); a number
// without one is dialled, at the server the gateway's SRV records name
// (RFC 3263 §4.2) when its URI gives a domain without a port.
#include "faxout/fax_dialler.hpp"

#include <algorithm>

#include "common/durable_file.hpp"
#include "common/log.hpp"
#include "delivery/destination_profile.hpp"
#include "mime/voice_message.hpp"
#include "smtp/delivery_queue.hpp"

namespace umstore::faxout {
namespace {

constexpr std::string_view kLog = "fax";

// The first SRV target (lowest priority, then highest weight) with an
// address; nullopt when the domain has no SRV records (the URI's host is
// then used as it is). Sets `why` when the gateway cannot be found now.
std::optional<sip::FaxGateway::NextHop> srv_next_hop(dns::Resolver& resolver, const std::string& name,
                                                      std::string& why) {
  auto srv = resolver.srv(name);
  if (srv.status == dns::DnsStatus::nxdomain || srv.status == dns::DnsStatus::no_data) return std::nullopt;
  if (!srv.found()) {
    why = "cannot look up " + name + ": " + srv.error;
    return std::nullopt;
  }
  std::stable_sort(srv.records.begin(), srv.records.end(), [](const dns::SrvRecord& a, const dns::SrvRecord& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.weight > b.weight;
  });
  why = name + " names no reachable SIP server";
  for (const auto& record : srv.records) {
    if (record.target.empty()) {  // RFC 2782: "." means the service is not offered there
      why = name + " says the domain offers no SIP service";
      return std::nullopt;
    }
    for (const auto type : {dns::RrType::a, dns::RrType::aaaa}) {
      const auto addresses = resolver.addresses(record.target, type);
      if (addresses.found() && !addresses.records.empty()) {
        why.clear();
        return sip::FaxGateway::NextHop{addresses.records.front(), record.port};
      }
      if (addresses.status == dns::DnsStatus::temporary_failure)
        why = "cannot look up " + record.target + ": " + addresses.error;
    }
  }
  return std::nullopt;
}

}  // namespace

void FaxDialler::look_up(const FaxJob& job) {
  in_flight_.insert(job.id);
  std::shared_ptr<dns::Resolver> resolver = gateway_srv_ ? config_.resolver : nullptr;
  lookups_[job.id] = std::jthread([inbox = inbox_, lookup = config_.enum_routing.lookup, resolver,
                                   srv_name = gateway_srv_.value_or(""), id = job.id, number = job.number] {
    Finished done{id, {}, Route{}};
    auto& route = *done.route;
    try {
      if (lookup) route.enum_answer = lookup->find(number, dns::kIfaxService);
      if (resolver && !(route.enum_answer && route.enum_answer->status != dns::EnumStatus::no_route))
        route.next_hop = srv_next_hop(*resolver, srv_name, route.unreachable);
    } catch (const std::exception& e) {
      route.unreachable = e.what();
    }
    {
      std::lock_guard lock(inbox->mutex);
      inbox->finished.push_back(std::move(done));
    }
    inbox->wakeup.notify_all();
  });
}

void FaxDialler::settle_route(const std::string& id, const Route& route) {
  lookups_.erase(id);  // joined: it has handed its answer over
  auto job = jobs_.find(id);
  if (!job || job->state != JobState::pending) return;
  if (route.enum_answer && routed_by_enum(*job, *route.enum_answer)) return;
  if (!route.unreachable.empty()) {
    ++job->attempts;
    job->last_call = CallReport{"unreachable", 0, route.unreachable, "", 0, "", std::chrono::milliseconds(0), false,
                                Clock::now()};
    return retry_or_fail(*job, true);
  }
  routed_[id] = route.next_hop;  // dialled in this pass
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
