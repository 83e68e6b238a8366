// Fax recipients (config.fax_outbox): accepted or refused at RCPT by the
// outbox, and the message handed to it at the end of DATA. A fax travels in
// a transaction of its own, so one reply can say what became of it.
#include "smtp_session.hpp"

#include <algorithm>

#include "common/ascii.hpp"
#include "common/log.hpp"

namespace umstore::smtp {

bool SmtpSession::is_fax_transaction() const {
  const auto& recipients = transaction_->recipients;
  return !recipients.empty() && !recipients.front().fax_number.empty();
}

net::Task<bool> SmtpSession::took_fax_recipient(const Mailbox& mailbox, Recipient& accepted) {
  const auto& outbox = server_.config.fax_outbox;
  if (!outbox || !outbox->is_fax_address(mailbox.address())) co_return false;
  const FaxSubmitter submitter{authenticated_, trusted_peer_};
  FaxRecipientVerdict verdict;
  try {
    verdict = co_await asio::co_spawn(
        server_.delivery_pool,
        [&]() -> net::Task<FaxRecipientVerdict> { co_return outbox->check_recipient(mailbox.address(), submitter); },
        asio::use_awaitable);
  } catch (const std::exception& e) {
    log_(LogLevel::Error, "fax recipient check for {} failed: {}", mailbox.address(), e.what());
    reply(451, "4.3.0", "cannot check the fax recipient now, try again later");
    co_return true;
  }
  if (verdict.refused) {
    refuse(verdict.reply.code, verdict.reply.enhanced, verdict.reply.text);
    co_return true;
  }
  auto& recipients = transaction_->recipients;
  if (!recipients.empty() && !is_fax_transaction()) {
    reply(452, "4.5.3", "a fax goes in a transaction of its own; send this recipient in another one");
    co_return true;
  }
  const bool duplicate = std::any_of(recipients.begin(), recipients.end(), [&](const Recipient& r) {
    return r.fax_number == verdict.number && r.fax_sub_address == verdict.sub_address;
  });
  if (!duplicate) {
    accepted.address = mailbox.address();
    accepted.fax_number = verdict.number;
    accepted.fax_sub_address = verdict.sub_address;
    recipients.push_back(accepted);
  }
  reply(250, "2.1.5", "fax recipient " + verdict.number + " OK");
  co_return true;
}

// On the delivery pool.
SmtpReply SmtpSession::submit_fax(std::string_view queue_id, std::string_view message) {
  const auto& t = *transaction_;
  FaxSubmission submission;
  submission.id = std::string(queue_id);
  submission.sender = t.sender ? t.sender->address() : "";
  submission.submitter = {authenticated_, trusted_peer_};
  submission.ret = t.ret;
  submission.envid = t.envid;
  submission.received_from = trace().from;
  for (const auto& r : t.recipients)
    submission.recipients.push_back({r.address, r.fax_number, r.fax_sub_address, r.orcpt, r.notify});
  try {
    return server_.config.fax_outbox->submit(submission, message);
  } catch (const std::exception& e) {
    log_(LogLevel::Error, "fax id={} from={} failed: {}", queue_id, submission.sender, e.what());
    return {451, "4.3.0", "local error while queueing the fax, try again later"};
  }
}

}  // namespace umstore::smtp
