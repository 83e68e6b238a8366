// ESMTP parameters of MAIL and RCPT (Postfix's smtpd_peer/smtpd_check
// parts for the envelope): SIZE, BODY, SMTPUTF8, AUTH=, and the DSN
// parameters RET, ENVID, NOTIFY, ORCPT (RFC 3461) when there is a queue.
#include "smtp_session.hpp"

#include "common/ascii.hpp"

namespace umstore::smtp {
namespace {

// RFC 3461 §4.2: ORCPT is addr-type ";" xtext, at most 500 characters.
bool is_valid_orcpt(std::string_view value) {
  auto semicolon = value.find(';');
  if (value.size() > 500 || semicolon == 0 || semicolon == std::string_view::npos) return false;
  return xtext_decode(value.substr(semicolon + 1)).has_value();
}

}  // namespace

// Refuses a parameter; false, for the checks below to return.
bool SmtpSession::refuse_parameter(int code, std::string_view text) {
  refuse(code, "5.5.4", text);
  return false;
}

// SIZE (RFC 1870), BODY (RFC 6152), RET/ENVID (RFC 3461), SMTPUTF8 (RFC 6531), AUTH= (RFC 4954).
bool SmtpSession::check_mail_parameters(const std::vector<EsmtpParameter>& parameters, Transaction& transaction) {
  if (!parameters.empty() && !esmtp_) return refuse_parameter(555, "MAIL parameters need EHLO, not HELO");
  for (const auto& parameter : parameters) {
    if (parameter.keyword == "SIZE") {
      auto size = parse_octet_count(parameter.value);
      if (!size) return refuse_parameter(501, "SIZE needs a number of octets");
      if (const std::size_t limit = server_.max_message_bytes; *size > limit) {
        reply(552, "5.3.4", "message size " + std::to_string(*size) + " exceeds the fixed maximum of " +
                                std::to_string(limit) + " octets");
        return false;
      }
    } else if (parameter.keyword == "BODY") {
      if (!ascii_iequals(parameter.value, "7BIT") && !ascii_iequals(parameter.value, "8BITMIME"))
        return refuse_parameter(501, "BODY must be 7BIT or 8BITMIME");
      transaction.body_8bit = !ascii_iequals(parameter.value, "7BIT");
    } else if (parameter.keyword == "SMTPUTF8" && parameter.value.empty()) {
      transaction.smtputf8 = true;
    } else if (parameter.keyword == "AUTH") {
      // RFC 4954 §5: an identity from an earlier hop; we keep nothing of it.
    } else if (parameter.keyword == "RET" && server_.config.queue) {
      if (!ascii_iequals(parameter.value, "FULL") && !ascii_iequals(parameter.value, "HDRS"))
        return refuse_parameter(501, "RET must be FULL or HDRS");
      transaction.ret = ascii_iequals(parameter.value, "FULL") ? "FULL" : "HDRS";
    } else if (parameter.keyword == "ENVID" && server_.config.queue) {
      if (parameter.value.size() > 100 || !xtext_decode(parameter.value))
        return refuse_parameter(501, "ENVID must be xtext of at most 100 characters");
      transaction.envid = parameter.value;
    } else {
      return refuse_parameter(555, "MAIL parameter " + parameter.keyword + " is not supported");
    }
  }
  return true;
}

bool SmtpSession::check_rcpt_parameters(const std::vector<EsmtpParameter>& parameters, Recipient& recipient) {
  for (const auto& parameter : parameters) {
    if (parameter.keyword == "NOTIFY" && server_.config.queue) {
      auto notify = parse_notify(parameter.value);
      if (!notify || parameter.value.empty())
        return refuse_parameter(501, "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY");
      recipient.notify = *notify;
    } else if (parameter.keyword == "ORCPT" && server_.config.queue) {
      if (!is_valid_orcpt(parameter.value))
        return refuse_parameter(501, "ORCPT must be addr-type;xtext of at most 500 characters");
      recipient.orcpt = parameter.value;
    } else {
      return refuse_parameter(555, "RCPT parameter " + parameter.keyword + " is not supported");
    }
  }
  return true;
}

}  // namespace umstore::smtp
