#include "faxout/fax_outbox.hpp"

#include "common/log.hpp"

namespace umstore::faxout {
namespace {

constexpr std::string_view kLog = "fax";

smtp::FaxRecipientVerdict refusal(int code, std::string enhanced, std::string text) {
  smtp::FaxRecipientVerdict verdict;
  verdict.is_fax = true;
  verdict.refused = true;
  verdict.reply = {code, std::move(enhanced), std::move(text)};
  return verdict;
}

}  // namespace

std::string budget_holder(const smtp::FaxSubmitter& submitter) {
  return submitter.user.empty() ? "trusted networks" : submitter.user;
}

Outbox::Outbox(OutboxConfig config, FaxJobs& jobs, PageBudget& budget, std::function<void()> queued)
    : config_(std::move(config)), jobs_(jobs), budget_(budget), queued_(std::move(queued)) {}

smtp::FaxRecipientVerdict Outbox::check_recipient(std::string_view address,
                                                  const smtp::FaxSubmitter& submitter) const {
  const auto parsed = parse_fax_address(address, config_.addressing);
  if (!parsed) return {};
  const bool may_send = !submitter.user.empty() || (submitter.trusted_network && config_.policy.trusted_networks_may_send);
  if (!may_send)
    return refusal(550, "5.7.1", "faxes are sent for authenticated users only: log in (AUTH) on the submission port");
  if (!parsed->number)
    return refusal(550, "5.1.3", "'" + parsed->written + "' in <" + std::string(address) +
                                     "> is not a telephone number this server can dial: write it in E.164 (+4930123456)"
                                     " or as dialled at home, with an optional /T33S= sub-address");
  if (auto why = destination_refusal(config_.policy, config_.addressing.routing.country_code, *parsed->number))
    return refusal(550, "5.7.1", *why);
  if (budget_.exhausted(budget_holder(submitter)))
    return refusal(550, "5.7.1", "the daily budget of " + std::to_string(config_.policy.pages_per_day) +
                                     " fax pages for " + budget_holder(submitter) +
                                     " is used up ([fax_out] pages_per_day); it starts afresh at 00:00 UTC");
  smtp::FaxRecipientVerdict verdict;
  verdict.is_fax = true;
  verdict.number = *parsed->number;
  verdict.sub_address = parsed->sub_address;
  return verdict;
}

smtp::SmtpReply Outbox::submit(const smtp::FaxSubmission& submission, std::string_view message) {
  std::string to;
  for (const auto& r : submission.recipients) to += (to.empty() ? "" : ", ") + r.number;
  FaxDocument document;
  try {
    document = render_fax(message, to, config_.document);
  } catch (const UnfaxableMessage& e) {
    return {550, e.status(), e.what()};
  } catch (const codecs::LimitExceeded& e) {
    return {552, "5.3.4", std::string("the fax is too large: ") + e.what()};
  } catch (const codecs::CodecError& e) {
    return {554, "5.6.1", std::string("a document cannot be faxed: ") + e.what()};
  }
  if (document.pages > config_.policy.max_pages)
    return {552, "5.3.4", "the fax has " + std::to_string(document.pages) + " pages; at most " +
                              std::to_string(config_.policy.max_pages) + " may be sent ([fax_out] max_pages)"};
  const unsigned pages = document.pages * static_cast<unsigned>(submission.recipients.size());
  unsigned left = 0;
  if (!budget_.take(budget_holder(submission.submitter), pages, left))
    return {550, "5.7.1", "the fax needs " + std::to_string(pages) + " pages and " +
                              budget_holder(submission.submitter) + " has " + std::to_string(left) +
                              " left today ([fax_out] pages_per_day)"};
  const std::string_view tiff(reinterpret_cast<const char*>(document.tiff.data()), document.tiff.size());
  std::string ids;
  const auto now = Clock::now();
  for (const auto& r : submission.recipients) {
    FaxJob job;
    job.id = smtp::new_queue_id();
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
    job.pages = document.pages;
    job.arrival = job.next_attempt = now;
    jobs_.add(job, tiff, message);
    ids += (ids.empty() ? "" : " ") + job.id;
    std::string parts;
    for (const auto& part : document.parts) parts += (parts.empty() ? "" : ", ") + part;
    log(LogLevel::Info, kLog, "id={} smtp_id={} from=<{}> user={} to={}{} pages={} ({})", job.id, submission.id,
        submission.sender, budget_holder(submission.submitter), job.number,
        job.sub_address.empty() ? "" : "/T33S=" + job.sub_address, job.pages, parts);
  }
  if (queued_) queued_();
  return {250, "2.0.0", "OK: fax of " + std::to_string(document.pages) + " pages queued as " + ids};
}

}  // namespace umstore::faxout
