#pragma once
// Faxes from email, as the SMTP server sees them (smtp/fax_outbox.hpp): at
// RCPT who may send to which number, at the end of DATA the pages rendered,
// counted against the sender's budget and kept as one job per number
// (fax_jobs.hpp) before the 250. The dialling is FaxDialler's.
#include <functional>
#include <memory>
#include <mutex>
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

// A fax an application asks for over HTTP (POST /v1/fax-out).
struct FaxRequest {
  std::string gateway;          // whose token: the owner and the budget holder
  std::string idempotency_key;  // may be empty
  std::string callback_url;     // webhook when it ends, may be empty
  std::string number;           // as written
  std::string sub_address;      // digits, may be empty
  std::vector<DocumentPart> parts;
  CoverDetails cover;
};

struct FaxRequestOutcome {
  int status = 202;             // HTTP: 202, or 400, 403, 413, 415, 422 with `error`
  std::string error;
  FaxJob job;
  bool duplicate = false;       // an earlier request with the same key made it
};

class Outbox final : public smtp::FaxOutbox {
 public:
  // `budget` is shared with nothing else; `queued` wakes the dialler.
  Outbox(OutboxConfig config, FaxJobs& jobs, PageBudget& budget, std::function<void()> queued);

  bool is_fax_address(std::string_view address) const override;
  smtp::FaxRecipientVerdict check_recipient(std::string_view address,
                                            const smtp::FaxSubmitter& submitter) const override;
  smtp::SmtpReply submit(const smtp::FaxSubmission& submission, std::string_view message) override;
  // On a blocking thread: renders, checks and keeps the job durably.
  FaxRequestOutcome submit_request(const FaxRequest& request);
  FaxJobs& jobs() { return jobs_; }
  // The most pages a fax may have: [fax_out] max_pages, or the codecs' limit when lower.
  unsigned page_limit() const { return config_.document.limits.max_pages; }

 private:
  // The refusal of dialling `address` for `holder` (its budget), or nullopt.
  std::optional<smtp::SmtpReply> refusal(const FaxAddress& address, const std::string& holder) const;
  // The pages, a job per number, kept before it returns.
  std::vector<FaxJob> keep(std::vector<FaxJob> jobs, const FaxDocument& document, std::string_view message);
  // What `keeping` kept; when it throws, the `pages` taken from `holder`'s
  // budget for them are given back first.
  std::vector<FaxJob> kept_or_given_back(const std::string& holder, unsigned pages,
                                         const std::function<std::vector<FaxJob>()>& keeping);

  OutboxConfig config_;
  FaxJobs& jobs_;
  PageBudget& budget_;
  std::function<void()> queued_;
  std::mutex requests_;  // HTTP requests are kept one at a time (their idempotency keys)
};


}  // namespace umstore::faxout
