#include "faxout/fax_dialler.hpp"

#include <algorithm>

#include "common/e164.hpp"
#include "common/log.hpp"
#include "mime/voice_message.hpp"
#include "smtp/dsn.hpp"

namespace umstore::faxout {
namespace {

constexpr std::string_view kLog = "fax";

CallReport report_of(const sip::FaxCallResult& r) {
  return {std::string(sip::to_string(r.outcome)), r.sip_status, r.sip_reason, r.t30_result, r.pages_sent,
          r.remote_station, r.duration, r.t38, Clock::now()};
}

// What went wrong, for people: "the line was busy (SIP 486 Busy Here)".
std::string failure_text(const CallReport& c) {
  const std::string sip = c.sip_status ? " (SIP " + std::to_string(c.sip_status) + " " + c.sip_reason + ")" : "";
  if (c.outcome == "busy") return "the line was busy" + sip;
  if (c.outcome == "no_answer") return "nobody answered" + sip;
  if (c.outcome == "refused") return "the telephone network refused the call" + sip;
  if (c.outcome == "t30_failed")
    return "the fax machines did not complete the transfer: " + c.t30_result + " (" + std::to_string(c.pages_sent) +
           " pages sent)";
  // Without a SIP answer the reason says what happened instead ("no response from ...", "stopped").
  return "the fax gateway could not be reached" + (c.sip_status ? sip : c.sip_reason.empty() ? "" : ": " + c.sip_reason);
}

// RFC 3463 codes: a number the network says does not exist is 5.1.1, one
// it refuses 5.7.1; attempts running out on a busy or silent line 4.4.7.
std::string status_of(const FaxJob& job) {
  if (job.state == JobState::sent) return "2.0.0";
  const auto& c = *job.last_call;
  if (c.outcome != "refused") return "4.4.7";
  if (c.sip_status == 404 || c.sip_status == 484 || c.sip_status == 410 || c.sip_status == 604) return "5.1.1";
  if (c.sip_status == 403 || c.sip_status == 603) return "5.7.1";
  return "5.0.0";
}

}  // namespace

std::string fax_dsn(const FaxJob& job, std::string_view message, const std::string& hostname,
                    const std::string& message_id) {
  const auto& call = *job.last_call;
  const bool sent = job.state == JobState::sent;
  const std::string number = mime::format_number_for_people(job.number);
  const std::string pages = std::to_string(call.pages_sent) + " of " + std::to_string(job.pages);
  smtp::DsnRecipient r;
  r.original_recipient = job.orcpt;
  r.final_recipient = job.address;
  r.action = sent ? smtp::DsnAction::Delivered : smtp::DsnAction::Failed;
  r.status = status_of(job);
  r.diagnostic_type = "X-FAX";
  r.diagnostic = sent ? "T.30: " + call.t30_result : failure_text(call);
  r.last_attempt = call.at;
  r.outcome_text = sent ? "faxed to " + number + ", " + pages + " pages"
                        : "could not be faxed to " + number + " after " + std::to_string(job.attempts) +
                              (job.attempts == 1 ? " attempt" : " attempts");
  r.extension_fields = {{"X-Fax-Job-Id", job.id},
                        {"X-Fax-Number", job.number},
                        {"X-Fax-Pages-Sent", std::to_string(call.pages_sent)},
                        {"X-Fax-Pages", std::to_string(job.pages)},
                        {"X-Fax-Attempts", std::to_string(job.attempts)},
                        {"X-Fax-Duration", std::to_string(call.duration.count() / 1000) + " s"},
                        {"X-Fax-Transport", call.t38 ? "T.38" : "G.711"}};
  if (!job.sub_address.empty()) r.extension_fields.emplace_back("X-Fax-Sub-Address", job.sub_address);
  if (!call.remote_station.empty()) r.extension_fields.emplace_back("X-Fax-Remote-Station", call.remote_station);
  if (!call.t30_result.empty()) r.extension_fields.emplace_back("X-Fax-T30-Result", call.t30_result);

  smtp::DsnReport report;
  report.reporting_mta = hostname;
  report.to = job.sender;
  report.envid = smtp::xtext_decode(job.envid).value_or(job.envid);
  report.received_from = job.received_from;
  report.arrival = job.arrival;
  report.recipients.push_back(std::move(r));
  report.return_full = job.ret == "FULL";
  report.original = message;
  report.message_id = message_id;
  report.subject = sent ? "Fax to " + number + " sent: " + pages + " pages"
                        : "Fax to " + number + " not sent: " + failure_text(call);
  return smtp::compose_dsn(report);
}

FaxDialler::FaxDialler(DiallerConfig config, FaxJobs& jobs, SendReport send_report, PlaceCall place_call)
    : config_(std::move(config)),
      jobs_(jobs),
      send_report_(std::move(send_report)),
      place_call_(std::move(place_call)),
      gateway_srv_(sip::gateway_srv_name(config_.gateway.uri)) {}

FaxDialler::~FaxDialler() { stop(); }

void FaxDialler::start() {
  jobs_.remove_orphans();
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

void FaxDialler::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
  lookups_.clear();  // each ends within the resolver's timeout
  {
    // Nothing is relayed once stopped: those numbers are looked up again at the next start.
    std::lock_guard lock(inbox_->mutex);
    std::erase_if(inbox_->finished, [](const Finished& f) { return f.route.has_value(); });
  }
  settle_finished();  // calls the endpoint ended as it stopped
}

void FaxDialler::settle_finished() {
  std::vector<Finished> finished;
  {
    std::lock_guard lock(inbox_->mutex);
    finished.swap(inbox_->finished);
    inbox_->woken = false;
  }
  for (const auto& f : finished) {
    try {
      settle(f);
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "id={} cannot record the call's outcome: {}", f.id, e.what());
    }
    in_flight_.erase(f.id);
  }
}

void FaxDialler::wake() {
  {
    std::lock_guard lock(inbox_->mutex);
    inbox_->woken = true;
  }
  inbox_->wakeup.notify_all();
}

void FaxDialler::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    settle_finished();
    auto next = Clock::now() + config_.poll_interval;
    try {
      if (const auto now = Clock::now(); now >= next_expiry_) {
        jobs_.expire_archive(config_.keep_records);
        next_expiry_ = now + std::chrono::hours(1);
      }
      next = std::min(next, dial_due_jobs());
    } catch (const std::exception& e) {
      log(LogLevel::Error, kLog, "cannot read the fax jobs ({}): {}", jobs_.location(), e.what());
    }
    std::unique_lock lock(inbox_->mutex);
    inbox_->wakeup.wait_until(lock, stop, next, [&] { return inbox_->woken || !inbox_->finished.empty(); });
  }
}

Clock::time_point FaxDialler::dial_due_jobs() {
  const auto now = Clock::now();
  auto next = Clock::time_point::max();
  for (auto& job : jobs_.take()) {
    if (job.state != JobState::pending) {
      finish_logged(job);  // ended, its report not queued yet (the SMTP queue failed, or a crash)
      continue;
    }
    if (in_flight_.count(job.id)) continue;
    if (job.next_attempt > now) {
      next = std::min(next, job.next_attempt);
      continue;
    }
    if (in_flight_.size() >= config_.max_calls) continue;
    const auto routed = routed_.find(job.id);
    if (needs_route() && routed == routed_.end()) {
      look_up(job);
      continue;
    }
    auto gateway = config_.gateway;
    if (routed != routed_.end()) {
      gateway.next_hop = routed->second;
      routed_.erase(routed);
    }
    sip::OutboundFax fax;
    fax.number = job.number;
    fax.sub_address = job.sub_address;
    // The sender's own number is who is calling, and the station it comes from.
    fax.caller_id = is_e164(job.user) ? job.user : "";
    fax.station_id = (fax.caller_id.empty() ? config_.station_id : fax.caller_id).substr(0, 20);
    fax.page_header = config_.page_header;
    fax.tiff = jobs_.pages(job.id);
    in_flight_.insert(job.id);
    log(LogLevel::Info, kLog, "id={} dialling {} (attempt {} of {})", job.id, job.number, job.attempts + 1,
        config_.max_attempts);
    place_call_(std::move(fax), std::move(gateway), [inbox = inbox_, id = job.id](sip::FaxCallResult result) {
      {
        std::lock_guard lock(inbox->mutex);
        inbox->finished.push_back({id, std::move(result), std::nullopt});
      }
      inbox->wakeup.notify_all();
    });
  }
  return next;
}

void FaxDialler::settle(const Finished& finished) {
  if (finished.route) return settle_route(finished.id, *finished.route);
  jobs_.release_pages(finished.id);
  auto job = jobs_.find(finished.id);
  if (!job || job->state != JobState::pending) return;  // deleted while it was being dialled
  ++job->attempts;
  job->last_call = report_of(finished.result);
  const auto& call = *job->last_call;
  if (finished.result.outcome != sip::FaxCallOutcome::sent) return retry_or_fail(*job, finished.result.retry_may_help());
  job->state = JobState::sent;
  log(LogLevel::Info, kLog, "id={} to={} sent: {} of {} pages, remote station '{}', {} ms{}", job->id, job->number,
      call.pages_sent, job->pages, call.remote_station, call.duration.count(), call.t38 ? ", T.38" : "");
  // Recorded before it is reported: a fax that went through is never dialled again,
  // whatever happens to its report.
  jobs_.update(*job);
  finish(*job);
}

void FaxDialler::retry_or_fail(FaxJob& job, bool retry_may_help) {
  const auto& call = *job.last_call;
  if (retry_may_help && job.attempts < config_.max_attempts) {
    const auto& waits = config_.retry_after;
    const auto wait = waits.empty() ? std::chrono::seconds(60) : waits[std::min<std::size_t>(job.attempts - 1, waits.size() - 1)];
    job.next_attempt = Clock::now() + wait;
    jobs_.update(job);
    log(LogLevel::Info, kLog, "id={} to={} attempt {} failed ({}): again in {} s", job.id, job.number, job.attempts,
        failure_text(call), wait.count());
    return;
  }
  job.state = JobState::failed;
  log(LogLevel::Warning, kLog, "id={} to={} failed after {} attempts: {}", job.id, job.number, job.attempts,
      failure_text(call));
  jobs_.update(job);
  finish(job);
}

// The report is queued before the job goes: a crash in between repeats a
// report rather than losing one.
void FaxDialler::finish(const FaxJob& job) {
  report(job);
  archive(job);
}

void FaxDialler::archive(const FaxJob& job) {
  jobs_.archive(job);
  if (config_.ended) config_.ended();
}

void FaxDialler::finish_logged(const FaxJob& job) {
  try {
    finish(job);
  } catch (const std::exception& e) {
    log(LogLevel::Error, kLog, "id={} ended {} but its report cannot be queued yet: {}", job.id, to_string(job.state),
        e.what());
  }
}

void FaxDialler::report(const FaxJob& job) {
  if (job.sender.empty()) return;
  const bool sent = job.state == JobState::sent;
  const bool wanted = sent ? job.notify.wants_success() || (config_.confirm_success && !job.notify.given)
                           : job.notify.wants_failure() && !job.notify.never;
  if (!wanted) return;
  const std::string dsn = fax_dsn(job, jobs_.message(job.id), config_.hostname,
                                  "<fax." + job.id + "@" + config_.hostname + ">");
  send_report_(job.sender, dsn);
  log(LogLevel::Info, kLog, "id={} {} report queued to {}", job.id, sent ? "success" : "failure", job.sender);
}

}  // namespace umstore::faxout
