#pragma once
// Faxes from email, as the SMTP server sees them (smtp/fax_outbox.hpp): at
// RCPT who may send to which number, at the end of DATA the pages rendered,
// counted against the sender's budget and kept as one job per number
// (fax_jobs.hpp) before the 250. The dialling is FaxDialler's.
#include <functional>
#include <memory>
#include <string>

#include "faxout/fax_address.hpp"
#include "faxout/fax_document.hpp"
#include "faxout/fax_jobs.hpp"
#include "faxout/send_policy.hpp"
#include "smtp/fax_outbox.hpp"

namespace umstore::faxout {

struct OutboxConfig {
  FaxAddressing addressing;
  SendPolicy policy;
  DocumentOptions document;
};

class Outbox final : public smtp::FaxOutbox {
 public:
  // `budget` is shared with nothing else; `queued` wakes the dialler.
  Outbox(OutboxConfig config, FaxJobs& jobs, PageBudget& budget, std::function<void()> queued);

  smtp::FaxRecipientVerdict check_recipient(std::string_view address,
                                            const smtp::FaxSubmitter& submitter) const override;
  smtp::SmtpReply submit(const smtp::FaxSubmission& submission, std::string_view message) override;

 private:
  OutboxConfig config_;
  FaxJobs& jobs_;
  PageBudget& budget_;
  std::function<void()> queued_;
};

// Whose page budget a submission draws on: the user, or the trusted
// networks together.
std::string budget_holder(const smtp::FaxSubmitter& submitter);

}  // namespace umstore::faxout
