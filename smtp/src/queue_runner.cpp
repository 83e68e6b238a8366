#include "smtp/queue_runner.hpp"

#include <algorithm>
#include <map>

#include "common/ascii.hpp"
#include "common/log.hpp"
#include "local_delivery_reply.hpp"
#include "mime/conformance.hpp"
#include "mime/message_parser.hpp"
#include "smtp/dsn.hpp"
#include "smtp/relay_client.hpp"
#include "smtp/smtp_protocol.hpp"

namespace umstore::smtp {
namespace {

constexpr std::string_view kLog = "queue";

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  std::string domain = at == std::string::npos ? "" : address.substr(at + 1);
  domain = ascii_lower(domain);
  return domain;
}

std::string reply_line(const SmtpReply& reply) {
  std::string text = reply.text;
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (reply.code == 0) return text;  // no SMTP reply: a connection problem
  return std::to_string(reply.code) + (reply.enhanced.empty() ? "" : " " + reply.enhanced) + " " + text;
}

std::string status_of(const SmtpReply& reply) {
  if (!reply.enhanced.empty()) return reply.enhanced;
  return std::to_string(reply.code / 100) + ".0.0";
}

}  // namespace

std::chrono::seconds retry_delay(unsigned attempts, std::chrono::seconds base, std::chrono::seconds cap) {
  auto delay = base;
  for (unsigned i = 1; i < attempts && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

// What one pass shares: open connections to next hops, reused across messages.
struct QueueRunner::Pass {
  RetrySchedule schedule;  // as it was when the pass began
  std::map<std::string, std::unique_ptr<RelayConnection>> connections;
  std::map<std::string, std::string> unreachable;  // destination -> why, so one dead host costs one timeout
  // Why ENUM could not be asked (a DNS timeout, SERVFAIL): the numbers after
  // it wait for the next pass instead of each costing the DNS timeout again.
  std::optional<std::string> enum_trouble;

  ~Pass() {
    for (auto& [destination, connection] : connections) connection->quit();
  }
};

QueueRunner::QueueRunner(QueueRunnerConfig config, DeliveryQueue& queue, mailstore::MailStore& store,
                         const mailstore::AccountStore& accounts)
    : config_(std::move(config)), queue_(queue), accounts_(accounts), local_delivery_(store, config_.delivery_policy) {}

QueueRunner::~QueueRunner() { stop(); }

void QueueRunner::start() {
  queue_.remove_orphans();
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

void QueueRunner::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  wakeup_.notify_all();
  thread_.join();
}

void QueueRunner::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wakeup_.notify_all();
}

void QueueRunner::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    try {
      run_once();
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "queue pass failed: {}", e.what());
    }
    std::unique_lock lock(mutex_);
    wakeup_.wait_for(lock, stop, config_.poll_interval, [this] { return woken_; });
    woken_ = false;
  }
}

void QueueRunner::set_schedule(const RetrySchedule& schedule) {
  std::lock_guard lock(mutex_);
  config_.schedule = schedule;
}

std::size_t QueueRunner::run_once() {
  Pass pass;
  {
    std::lock_guard lock(mutex_);
    pass.schedule = config_.schedule;
  }
  std::size_t attempted = 0;
  for (const auto& id : queue_.take_due()) {
    std::optional<QueuedEnvelope> envelope;
    try {
      envelope = queue_.envelope(id);
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "{}", e.what());
      continue;
    }
    if (!envelope || envelope->next_attempt > Clock::now()) continue;
    ++attempted;
    attempt(pass, std::move(*envelope));
  }
  return attempted;
}

std::optional<RecipientRoute> QueueRunner::local_route(const std::string& address) const {
  try {
    const auto path = parse_forward_path("<" + address + ">");
    return route_recipient(*path.mailbox, config_.local_domains);
  } catch (const SmtpSyntaxError&) {
    return std::nullopt;  // not an address we can route: treated as remote, where it will fail visibly
  }
}

std::string QueueRunner::local_mailbox(const std::string& address) const {
  const auto route = local_route(address);
  if (route && route->kind == RecipientKind::Number) return route->number;
  if (route && route->kind == RecipientKind::Postmaster) {
    auto accounts = accounts_.list();
    auto lowest = std::min_element(accounts.begin(), accounts.end(),
                                   [](const auto& a, const auto& b) { return a.number < b.number; });
    if (lowest != accounts.end()) return lowest->number;
  }
  return {};
}

void QueueRunner::queue_report(const std::string& id, const std::string& to, std::string_view message) {
  QueuedEnvelope report;
  report.id = id;
  report.arrival = report.next_attempt = Clock::now();
  QueuedRecipient recipient;
  recipient.address = to;
  recipient.mailbox = local_mailbox(to);
  recipient.notify = *parse_notify("NEVER");
  report.recipients.push_back(std::move(recipient));
  queue_.enqueue(report, message);
  wake();
}

namespace {
bool is_internet_fax(std::string_view message) {
  return mime::classify_message(mime::parse_message(message)) == mime::MessageKind::internet_fax;
}
}  // namespace

std::string QueueRunner::as_voice_message(const std::string& message, const QueuedEnvelope& envelope,
                                          const QueuedRecipient& r) const {
  if (!config_.delivery_policy) return message;
  std::string original = r.address;  // the address the sender wrote, before an ENUM route replaced it
  if (ascii_istarts_with(r.orcpt, "rfc822;"))
    original = xtext_decode(std::string_view(r.orcpt).substr(7)).value_or(r.address);
  delivery::MailboxProfile pure;
  pure.playable = mailstore::PlayableAudio::none;
  auto plan = delivery::plan_local_delivery({message, envelope.sender, original, Clock::now()}, pure,
                                            *config_.delivery_policy);
  if (plan.refusal || plan.kind == mime::MessageKind::plain) return message;
  for (const auto& note : plan.notes) log(LogLevel::Info, kLog, "id={} to={}: {}", envelope.id, r.address, note);
  return std::move(plan.message);
}

std::optional<SmtpReply> QueueRunner::follow_enum(Pass& pass, const std::string& id, QueuedRecipient& r,
                                                  const std::string& number, bool fax) const {
  if (!config_.enum_routes) return SmtpReply{550, "5.1.1", "mailbox " + number + " does not exist here"};
  if (pass.enum_trouble) return SmtpReply{451, "4.4.3", *pass.enum_trouble + " (not asked again until the next pass)"};
  const std::string what = fax ? "IFAX" : "VPIM";
  const auto answer = config_.enum_routes->find(number, fax ? dns::kIfaxService : dns::kVpimService);
  if (answer.status == dns::EnumStatus::temporary_failure) {
    pass.enum_trouble = answer.reason;
    return SmtpReply{451, "4.4.3", answer.reason};
  }
  if (answer.status == dns::EnumStatus::no_route)
    return SmtpReply{550, "5.1.1", "no " + what + " route for " + number + ": " + answer.reason};
  const auto address = dns::mailto_address(answer.uri);
  if (!address)
    return SmtpReply{550, "5.1.1", "no " + what + " route for " + number + ": " + answer.domain + " names " + answer.uri};
  if (const auto back = local_route(*address); back && back->kind != RecipientKind::Foreign) {
    // ENUM names this system: a mailbox here takes it, anything else would loop.
    if (back->kind == RecipientKind::Number && accounts_.find(back->number)) {
      r.mailbox = back->number;
      return std::nullopt;
    }
    return SmtpReply{550, "5.4.6", "ENUM routes " + number + " to " + *address + ", which loops back here"};
  }
  log(LogLevel::Info, kLog, "id={} to={}: ENUM {} names {} ({})", id, r.address, answer.domain, *address, what);
  if (r.orcpt.empty()) r.orcpt = "rfc822;" + xtext_encode(r.address);  // DSNs name what the sender wrote
  r.address = *address;
  // The pure form either way: the vpim profile leaves a fax in the form a
  // mailbox without a PDF copy gets (simple-mode IFAX, RFC 3965).
  r.profile = std::string(delivery::to_string(delivery::DestinationProfile::vpim));
  return std::nullopt;
}

void QueueRunner::attempt(Pass& pass, QueuedEnvelope envelope) {
  std::string message;
  try {
    message = queue_.message(envelope.id);
  } catch (const std::exception& e) {
    log(LogLevel::Error, kLog, "id={} has an envelope but no message ({}); removing it", envelope.id, e.what());
    queue_.remove(envelope.id);
    return;
  }
  const auto now = Clock::now();
  std::vector<DsnRecipient> reports;

  auto settle = [&](QueuedRecipient& r, const SmtpReply& reply, const std::string& remote, bool dsn_passed_on) {
    r.attempts++;
    r.last_attempt = now;
    r.last_reply = reply_line(reply);
    r.status = status_of(reply);
    r.remote_mta = remote;
    DsnRecipient report{r.orcpt, r.address, DsnAction::Failed, r.status, remote, r.last_reply, now, std::nullopt, "smtp", {}, {}};
    if (reply.code / 100 == 2) {
      r.state = remote.empty() ? RecipientState::Delivered : RecipientState::Relayed;
      config_.metrics->count_delivery(remote.empty() ? DeliveryResult::Delivered : DeliveryResult::Relayed);
      log(LogLevel::Info, kLog, "id={} to={} {} via {}: {}", envelope.id, r.address, state_name(r.state),
          remote.empty() ? "mailstore" : remote, r.last_reply);
      // A DSN-capable next hop reports success itself (RFC 3461 §4.1).
      if (r.notify.wants_success() && !dsn_passed_on) {
        report.action = remote.empty() ? DsnAction::Delivered : DsnAction::Relayed;
        reports.push_back(report);
      }
      return;
    }
    const bool expired = now - envelope.arrival >= pass.schedule.max_age;
    if (reply.code / 100 == 5 || expired) {
      r.state = RecipientState::Failed;
      config_.metrics->count_delivery(DeliveryResult::Failed);
      if (expired && reply.code / 100 != 5) {
        r.status = "4.4.7";
        report.status = r.status;
        report.diagnostic = r.last_reply + " (gave up after " +
                            std::to_string(pass.schedule.max_age.count() / 3600) + " hours)";
      }
      log(LogLevel::Warning, kLog, "id={} to={} failed: {}", envelope.id, r.address, r.last_reply);
      if (r.notify.wants_failure() && !r.notify.never) reports.push_back(report);
      return;
    }
    config_.metrics->count_delivery(DeliveryResult::Deferred);
    log(LogLevel::Info, kLog, "id={} to={} deferred (attempt {}): {}", envelope.id, r.address, r.attempts, r.last_reply);
    if (!r.delay_reported && now - envelope.arrival >= pass.schedule.delay_warning && r.notify.wants_delay() &&
        !r.notify.never) {
      r.delay_reported = true;
      report.action = DsnAction::Delayed;
      report.will_retry_until = envelope.arrival + pass.schedule.max_age;
      reports.push_back(report);
    }
  };

  // Local recipients: straight into the mailstore; the message carries its
  // Received from arrival, local delivery adds Return-Path (RFC 5321 §4.4).
  // (next hop, form) -> recipients: one transaction each.
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> remote_groups;
  std::optional<bool> fax;  // the message is an Internet fax: parsed once, when an ENUM route needs it
  const auto message_is_fax = [&] {
    if (!fax) fax = is_internet_fax(message);
    return *fax;
  };
  for (std::size_t i = 0; i < envelope.recipients.size(); ++i) {
    auto& r = envelope.recipients[i];
    if (r.state != RecipientState::Pending) continue;
    // A number of ours without a mailbox (accepted for ENUM): one made since, or its ENUM route.
    if (const auto route = local_route(r.address);
        r.mailbox.empty() && route && route->kind == RecipientKind::Number) {
      if (accounts_.find(route->number)) {
        r.mailbox = route->number;
      } else if (auto refusal = follow_enum(pass, envelope.id, r, route->number, message_is_fax())) {
        settle(r, *refusal, "", false);
        continue;
      }
    }
    if (config_.report_sink && !config_.report_address.empty() && ascii_lower(r.address) == ascii_lower(config_.report_address)) {
      const bool taken = config_.report_sink(message);
      settle(r, taken ? SmtpReply{250, "2.0.0", "delivery report recorded"}
                      : SmtpReply{550, "5.1.1", "no forwarded message matches this report"}, "", false);
      continue;
    }
    if (r.mailbox.empty()) {
      // Recipients that get different forms (delivery/) travel separately.
      const std::string form = !r.profile.empty()           ? r.profile
                               : config_.delivery_policy ? delivery::relay_group(config_.delivery_policy->destinations, r.address)
                                                         : "";
      remote_groups[{config_.smarthost.empty() ? domain_of(r.address) : config_.smarthost, form}].push_back(i);
      continue;
    }
    if (!accounts_.find(r.mailbox)) {
      settle(r, {550, "5.1.1", "mailbox " + r.mailbox + " does not exist here"}, "", false);
      continue;
    }
    // Delivering already: the process died in an attempt, which may have stored the copy.
    const bool interrupted = r.delivering;
    r.delivering = true;
    queue_.update(envelope);
    const delivery::LocalRecipient recipient{r.address, r.mailbox};
    const delivery::DeliveryRequest request{.key = envelope.id,
                                            .origin = delivery::MessageOrigin::Smtp,
                                            .sender = envelope.sender,
                                            .recipients = std::span(&recipient, 1),
                                            .message = message,
                                            .after_interruption = interrupted};
    const auto result = local_delivery_.deliver(request);
    r.delivering = false;
    settle(r, local_delivery_reply(result, request.recipients, envelope.id), "", false);
  }

  for (auto& [group, indexes] : remote_groups) {
    const std::string& destination = group.first;
    std::vector<QueuedRecipient> batch;
    for (auto i : indexes) batch.push_back(envelope.recipients[i]);
    // What this destination's system takes (pure VPIM, IVM, playable copies): delivery/destination_profile.hpp.
    const auto& first = batch.front();
    const auto named = delivery::parse_destination_profile(first.profile);
    const auto relayed = named ? delivery::form_for_destination(as_voice_message(message, envelope, first), *named)
                         : config_.delivery_policy
                             ? delivery::form_for_recipient(message, first.address, config_.delivery_policy->destinations)
                             : delivery::DestinationForm{message, false, {}, std::nullopt};
    for (const auto& note : relayed.notes) log(LogLevel::Info, kLog, "id={} to {}: {}", envelope.id, destination, note);
    if (relayed.refusal) {
      for (auto i : indexes) settle(envelope.recipients[i], {554, "5.6.0", *relayed.refusal}, "", false);
      continue;
    }
    // Signed in the form it leaves in, so the signature covers what the next hop gets.
    std::string signature;
    try {
      signature = mailauth::dkim_signature_for_author(config_.dkim_keys, relayed.message);
    } catch (const std::exception& e) {
      for (auto i : indexes) settle(envelope.recipients[i], {451, "4.7.0", std::string("cannot DKIM-sign: ") + e.what()}, "", false);
      continue;
    }
    const std::string leaving = signature + relayed.message;
    const RelayTransaction transaction{envelope.sender, envelope.ret, envelope.envid, envelope.body_8bit,
                                       envelope.smtputf8, batch, leaving};
    std::optional<RelayOutcome> outcome;
    std::string failure;
    std::string host = destination;
    if (auto known = pass.unreachable.find(destination); known != pass.unreachable.end()) failure = known->second;
    for (int round = 0; round < 2 && !outcome && failure.empty(); ++round) {
      try {
        auto& connection = pass.connections[destination];
        if (!connection) {
          std::string errors;
          connection = connect_next_hop(destination, errors);
          if (!connection) {
            failure = errors;
            pass.unreachable[destination] = errors;
            pass.connections.erase(destination);
            break;
          }
        }
        host = connection->host();
        outcome = connection->send(transaction);
      } catch (const SmtpError& e) {
        // A reused connection may have been closed by the peer: one fresh try.
        pass.connections.erase(destination);
        failure = e.what();
        if (round == 0) failure.clear();
      }
    }
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      auto& r = envelope.recipients[indexes[k]];
      if (outcome) settle(r, outcome->replies[k], host, outcome->dsn_passed_on);
      else settle(r, {0, "4.4.1", "cannot deliver to " + destination + ": " + failure}, host, false);
    }
  }

  // The DSN is queued before the envelope changes: a crash in between
  // repeats a report rather than losing one.
  if (!reports.empty() && !envelope.sender.empty()) {
    try {
      DsnReport report{config_.hostname, envelope.sender, xtext_decode(envelope.envid).value_or(envelope.envid),
                       envelope.received_from, envelope.arrival, std::move(reports), envelope.ret == "FULL", message, {}, {}};
      const std::string dsn_id = new_queue_id();
      report.message_id = "<dsn." + dsn_id + "@" + config_.hostname + ">";
      queue_report(dsn_id, envelope.sender, compose_dsn(report));
      for (const auto& reported : report.recipients) config_.metrics->count_dsn(reported.action);
      log(LogLevel::Info, kLog, "id={} DSN queued as {} to {}", envelope.id, dsn_id, envelope.sender);
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "id={} cannot queue a DSN to {}: {}", envelope.id, envelope.sender, e.what());
    }
  } else if (!reports.empty()) {
    log(LogLevel::Warning, kLog, "id={} has the null sender: no DSN for {} recipient(s)", envelope.id, reports.size());
  }

  if (envelope.finished()) {
    queue_.remove(envelope.id);
    return;
  }
  unsigned most = 0;
  for (const auto& r : envelope.recipients)
    if (r.state == RecipientState::Pending) most = std::max(most, r.attempts);
  envelope.next_attempt = now + retry_delay(most, pass.schedule.retry_base, pass.schedule.retry_max);
  queue_.update(envelope);
}

}  // namespace umstore::smtp
