#include "faxout/fax_outbox.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "mime/voice_message.hpp"

namespace umstore::faxout {
namespace {

constexpr std::string_view kLog = "fax";

smtp::FaxRecipientVerdict refused(smtp::SmtpReply reply) {
  smtp::FaxRecipientVerdict verdict;
  verdict.is_fax = true;
  verdict.refused = true;
  verdict.reply = std::move(reply);
  return verdict;
}

// What cannot be faxed, as the SMTP reply at the end of DATA.
std::optional<smtp::SmtpReply> render(const std::function<FaxDocument()>& rendering, unsigned max_pages,
                                      FaxDocument& out) {
  try {
    out = rendering();
    return std::nullopt;
  } catch (const UnfaxableMessage& e) {
    return smtp::SmtpReply{550, e.status(), e.what()};
  } catch (const codecs::LimitExceeded& e) {
    std::string text = std::string("the fax is too large: ") + e.what();
    if (e.limit() == codecs::LimitExceeded::Limit::fax_pages)
      text += " (at most " + std::to_string(max_pages) + " pages may be sent: [fax_out] max_pages)";
    return smtp::SmtpReply{552, "5.3.4", text};
  } catch (const codecs::CodecError& e) {
    return smtp::SmtpReply{554, "5.6.1", std::string("a document cannot be faxed: ") + e.what()};
  }
}

int http_status_of(const smtp::SmtpReply& reply) {
  if (reply.enhanced == "5.1.3") return 400;
  if (reply.enhanced == "5.7.1") return 403;
  if (reply.enhanced == "5.3.4") return 413;
  if (reply.enhanced == "5.6.1") return 415;
  return 422;
}

// Whose page budget a submission draws on: the user, or the trusted
// networks together.
std::string budget_holder(const smtp::FaxSubmitter& submitter) {
  return submitter.user.empty() ? "trusted networks" : submitter.user;
}

}  // namespace

Outbox::Outbox(OutboxConfig config, FaxJobs& jobs, PageBudget& budget, std::function<void()> queued)
    : config_(std::move(config)), jobs_(jobs), budget_(budget), queued_(std::move(queued)) {
  // Rendering stops at the first page that could not be sent: a 200-page
  // PDF to a 50-page limit costs a count of its pages, not 200 renderings.
  config_.document.limits.max_pages = std::min(config_.document.limits.max_pages, config_.policy.max_pages);
}

std::optional<smtp::SmtpReply> Outbox::refusal(const FaxAddress& address, const std::string& holder) const {
  if (!address.number)
    return smtp::SmtpReply{550, "5.1.3", "'" + address.written +
                                             "' is not a telephone number this server can dial: write it in E.164 "
                                             "(+4930123456) or as dialled at home, with an optional /T33S= sub-address"};
  if (auto why = destination_refusal(config_.policy, config_.addressing.routing.country_code, *address.number))
    return smtp::SmtpReply{550, "5.7.1", *why};
  if (budget_.exhausted(holder))
    return smtp::SmtpReply{550, "5.7.1", "the daily budget of " + std::to_string(config_.policy.pages_per_day) +
                                             " fax pages for " + holder +
                                             " is used up ([fax_out] pages_per_day); it starts afresh at 00:00 UTC"};
  return std::nullopt;
}

bool Outbox::is_fax_address(std::string_view address) const {
  return parse_fax_address(address, config_.addressing).has_value();
}

smtp::FaxRecipientVerdict Outbox::check_recipient(std::string_view address,
                                                  const smtp::FaxSubmitter& submitter) const {
  const auto parsed = parse_fax_address(address, config_.addressing);
  if (!parsed) return {};
  const bool may_send = !submitter.user.empty() || (submitter.trusted_network && config_.policy.trusted_networks_may_send);
  if (!may_send)
    return refused({550, "5.7.1", "faxes are sent for authenticated users only: log in (AUTH) on the submission port"});
  if (auto why = refusal(*parsed, budget_holder(submitter))) return refused(std::move(*why));
  smtp::FaxRecipientVerdict verdict;
  verdict.is_fax = true;
  verdict.number = *parsed->number;
  verdict.sub_address = parsed->sub_address;
  return verdict;
}

std::vector<FaxJob> Outbox::keep(std::vector<FaxJob> jobs, const FaxDocument& document, std::string_view message) {
  const std::string_view tiff(reinterpret_cast<const char*>(document.tiff.data()), document.tiff.size());
  std::string parts;
  for (const auto& part : document.parts) parts += (parts.empty() ? "" : ", ") + part;
  const auto now = Clock::now();
  std::size_t kept = 0;
  try {
    for (; kept < jobs.size(); ++kept) {
      auto& job = jobs[kept];
      job.id = smtp::new_queue_id();
      job.pages = document.pages;
      job.arrival = job.next_attempt = now;
      jobs_.add(job, tiff, message);
    }
  } catch (...) {
    // All or none: the sender is told to try again, which must not fax some numbers twice.
    for (std::size_t i = 0; i < kept; ++i) jobs_.remove(jobs[i].id);
    throw;
  }
  for (const auto& job : jobs) {
    log(LogLevel::Info, kLog, "id={} source={} from=<{}> to={}{} pages={} ({})", job.id, job.source, job.sender,
        job.number, job.sub_address.empty() ? "" : "/T33S=" + job.sub_address, job.pages, parts);
  }
  if (queued_) queued_();
  return jobs;
}

std::vector<FaxJob> Outbox::kept_or_given_back(const std::string& holder, unsigned pages,
                                               const std::function<std::vector<FaxJob>()>& keeping) {
  try {
    return keeping();
  } catch (...) {
    try {
      budget_.give_back(holder, pages);
    } catch (const std::exception& e) {
      log(LogLevel::Warning, kLog, "{} page(s) of {} not given back: {}", pages, holder, e.what());
    }
    throw;
  }
}

smtp::SmtpReply Outbox::submit(const smtp::FaxSubmission& submission, std::string_view message) {
  std::string to;
  for (const auto& r : submission.recipients) to += (to.empty() ? "" : ", ") + r.number;
  FaxDocument document;
  if (auto why = render([&] { return render_fax(message, to, config_.document); }, page_limit(), document))
    return *why;
  if (document.pages > config_.policy.max_pages)
    return {552, "5.3.4", "the fax has " + std::to_string(document.pages) + " pages; at most " +
                              std::to_string(config_.policy.max_pages) + " may be sent ([fax_out] max_pages)"};
  const std::string holder = budget_holder(submission.submitter);
  const unsigned pages = document.pages * static_cast<unsigned>(submission.recipients.size());
  unsigned left = 0;
  if (!budget_.take(holder, pages, left))
    return {550, "5.7.1", "the fax needs " + std::to_string(pages) + " pages and " + holder + " has " +
                              std::to_string(left) + " left today ([fax_out] pages_per_day)"};
  std::vector<FaxJob> jobs;
  for (const auto& r : submission.recipients) {
    FaxJob job;
    job.smtp_id = submission.id;
    job.sender = submission.sender;
    job.user = submission.submitter.user;
    job.address = r.address;
    job.orcpt = r.orcpt;
    job.notify = r.notify;
    job.ret = submission.ret;
    job.envid = submission.envid;
    job.received_from = submission.received_from;
    job.number = r.number;
    job.sub_address = r.sub_address;
    jobs.push_back(std::move(job));
  }
  std::string ids;
  for (const auto& job : kept_or_given_back(holder, pages, [&] { return keep(std::move(jobs), document, message); }))
    ids += (ids.empty() ? "" : " ") + job.id;
  return {250, "2.0.0", "OK: fax of " + std::to_string(document.pages) + " pages queued as " + ids};
}

FaxRequestOutcome Outbox::submit_request(const FaxRequest& request) {
  const std::string source = "http:" + request.gateway;
  if (auto earlier = jobs_.find_by_key(source, request.idempotency_key))
    return {200, "", std::move(*earlier), true};
  FaxAddress address;
  address.written = request.number;
  address.sub_address = request.sub_address;
  address.number = ingest::normalise_called_number(request.number, config_.addressing.routing);
  const auto fail = [](const smtp::SmtpReply& why) { return FaxRequestOutcome{http_status_of(why), why.text, {}, false}; };
  if (auto why = refusal(address, source)) return fail(*why);
  FaxDocument document;
  CoverDetails cover = request.cover;
  if (cover.to.empty()) cover.to = mime::format_number_for_people(*address.number);
  if (auto why = render([&] { return render_parts(request.parts, cover, config_.document); }, page_limit(), document))
    return fail(*why);
  if (document.pages > config_.policy.max_pages)
    return fail({552, "5.3.4", "the fax has " + std::to_string(document.pages) + " pages; at most " +
                                   std::to_string(config_.policy.max_pages) + " may be sent ([fax_out] max_pages)"});
  // Two requests with one key at once: the second, checking again here, answers with the first's job.
  const std::lock_guard one_at_a_time(requests_);
  if (auto earlier = jobs_.find_by_key(source, request.idempotency_key)) return {200, "", std::move(*earlier), true};
  unsigned left = 0;
  if (!budget_.take(source, document.pages, left))
    return fail({550, "5.7.1", "the fax needs " + std::to_string(document.pages) + " pages and " + source + " has " +
                                   std::to_string(left) + " left today ([fax_out] pages_per_day)"});
  FaxJob job;
  job.source = source;
  job.idempotency_key = request.idempotency_key;
  job.callback_url = request.callback_url;
  job.address = "FAX=" + *address.number + (address.sub_address.empty() ? "" : "/T33S=" + address.sub_address);
  job.number = *address.number;
  job.sub_address = address.sub_address;
  job.notify = *smtp::parse_notify("NEVER");
  try {
    return {202, "", std::move(kept_or_given_back(source, document.pages, [&] { return keep({job}, document, ""); })[0]),
            false};
  } catch (const DuplicateRequest&) {
    if (auto earlier = jobs_.find_by_key(source, request.idempotency_key)) return {200, "", std::move(*earlier), true};
    throw;
  }
}

}  // namespace umstore::faxout
