#include "sender_verdict.hpp"

#include <algorithm>

namespace umstore::smtp {

using mailauth::AuthResult;
using mailauth::DmarcPolicy;

namespace {

std::string summary_of(const mailauth::SenderAuthentication& checked) {
  std::string dkim = checked.dkim.empty() ? "none" : "";
  for (const auto& signature : checked.dkim)
    dkim += (dkim.empty() ? "" : ",") + std::string(to_string(signature.result)) + "/" + signature.domain;
  std::string text = "spf=" + std::string(to_string(checked.spf.result)) + " dkim=" + dkim +
                     " dmarc=" + std::string(to_string(checked.dmarc.result));
  if (checked.dmarc.policy != DmarcPolicy::absent) text += " p=" + std::string(to_string(checked.dmarc.policy));
  if (!checked.dmarc.from_domain.empty()) text += " from=" + checked.dmarc.from_domain;
  return text;
}

// What failed, for the reply: the first check that did not pass.
std::string temporary_cause(const mailauth::SenderAuthentication& checked) {
  if (checked.spf.result == AuthResult::temperror) return "SPF";
  if (std::any_of(checked.dkim.begin(), checked.dkim.end(),
                  [](const auto& signature) { return signature.result == AuthResult::temperror; }))
    return "DKIM";
  return "DMARC";
}

}  // namespace

SenderVerdict judge_sender(const mailauth::SenderAuthentication& checked, std::string_view authserv_id,
                           std::string_view message) {
  SenderVerdict verdict;
  verdict.summary = summary_of(checked);
  const auto& dmarc = checked.dmarc;
  if (checked.temporary_failure()) {
    verdict.refusal = SmtpReply{451, "4.7.0",
                                "temporary DNS failure checking the sender (" + temporary_cause(checked) +
                                    "), try again later"};
    return verdict;
  }
  if (dmarc.result == AuthResult::fail && dmarc.policy == DmarcPolicy::reject) {
    verdict.refusal = SmtpReply{550, "5.7.1",
                                "message refused: it fails DMARC for " + dmarc.from_domain +
                                    ", whose policy is reject (" + (dmarc.reason.empty() ? verdict.summary : dmarc.reason) +
                                    ")"};
    return verdict;
  }
  verdict.quarantine = dmarc.result == AuthResult::fail && dmarc.policy == DmarcPolicy::quarantine;
  verdict.message = checked.header + mailauth::without_our_authentication_results(message, authserv_id);
  return verdict;
}

SenderVerdict exempt_sender(std::string_view authserv_id, std::string_view smtp_auth, std::string_view message) {
  SenderVerdict verdict;
  verdict.summary = smtp_auth.empty() ? "trusted network" : "authenticated as " + std::string(smtp_auth);
  verdict.message = mailauth::exempt_authentication_results_field(authserv_id, smtp_auth) +
                    mailauth::without_our_authentication_results(message, authserv_id);
  return verdict;
}

}  // namespace umstore::smtp
