#include "smtp/dsn.hpp"

#include <algorithm>
#include <atomic>

#include "common/rfc5322_date.hpp"

namespace umstore::smtp {
namespace {

// Returned messages larger than this go back as headers only (RFC 3461 §4.3 allows it).
constexpr std::size_t kMaxReturnedBytes = 1u << 20;

std::string_view header_block(std::string_view message) {
  auto end = message.find("\r\n\r\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 2);
}

bool is_eight_bit(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 128; });
}

// Only printable ASCII goes into the 7bit report fields.
std::string seven_bit(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(static_cast<unsigned char>(c) >= 32 && static_cast<unsigned char>(c) < 127 ? c : '?');
  return out;
}

std::string subject_for(const DsnReport& report) {
  auto has = [&](DsnAction a) {
    return std::any_of(report.recipients.begin(), report.recipients.end(), [&](const auto& r) { return r.action == a; });
  };
  if (has(DsnAction::Failed)) return "Undelivered Mail Returned to Sender";
  if (has(DsnAction::Delayed)) return "Delayed Mail (still being retried)";
  if (has(DsnAction::Relayed)) return "Relayed Mail Notification";
  return "Successful Mail Delivery Report";
}

std::string human_text(const DsnReport& report) {
  std::string text = "This is the mail system at " + report.reporting_mta + ".\r\n\r\n";
  for (const auto& r : report.recipients) {
    text += "<" + seven_bit(r.final_recipient) + ">: ";
    if (!r.outcome_text.empty()) text += seven_bit(r.outcome_text);
    else switch (r.action) {
      case DsnAction::Failed: text += "could not be delivered; no further attempts will be made"; break;
      case DsnAction::Delayed: text += "not delivered yet; delivery is still being attempted"; break;
      case DsnAction::Delivered: text += "delivered to the mailbox"; break;
      case DsnAction::Relayed: text += "passed on to a system that does not report delivery"; break;
    }
    if (!r.diagnostic.empty()) text += "\r\n    " + seven_bit(r.diagnostic);
    for (const auto& [name, value] : r.extension_fields) text += "\r\n    " + name + ": " + seven_bit(value);
    text += "\r\n";
  }
  return text;
}

std::string recipient_block(const DsnRecipient& r) {
  std::string out;
  if (!r.original_recipient.empty()) out += "Original-Recipient: " + seven_bit(r.original_recipient) + "\r\n";
  out += "Final-Recipient: rfc822;" + seven_bit(r.final_recipient) + "\r\n";
  out += "Action: " + std::string(action_name(r.action)) + "\r\n";
  out += "Status: " + r.status + "\r\n";
  if (!r.remote_mta.empty()) out += "Remote-MTA: dns;" + seven_bit(r.remote_mta) + "\r\n";
  if (!r.diagnostic.empty()) out += "Diagnostic-Code: " + r.diagnostic_type + ";" + seven_bit(r.diagnostic) + "\r\n";
  if (r.last_attempt != std::chrono::system_clock::time_point{})
    out += "Last-Attempt-Date: " + format_rfc5322_date(r.last_attempt) + "\r\n";
  if (r.action == DsnAction::Delayed && r.will_retry_until)
    out += "Will-Retry-Until: " + format_rfc5322_date(*r.will_retry_until) + "\r\n";
  for (const auto& [name, value] : r.extension_fields) out += name + ": " + seven_bit(value) + "\r\n";
  return out;
}

}  // namespace

std::string_view action_name(DsnAction action) noexcept {
  switch (action) {
    case DsnAction::Failed: return "failed";
    case DsnAction::Delayed: return "delayed";
    case DsnAction::Delivered: return "delivered";
    case DsnAction::Relayed: return "relayed";
  }
  return "failed";
}

std::string compose_dsn(const DsnReport& report) {
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::system_clock::now();
  const auto stamp = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::string boundary = "=_umstore_dsn_" + std::to_string(stamp) + "_" + std::to_string(counter++);
  const bool failure = std::any_of(report.recipients.begin(), report.recipients.end(),
                                   [](const auto& r) { return r.action == DsnAction::Failed; });

  std::string out;
  out += "Date: " + format_rfc5322_date(now) + "\r\n";
  out += "From: Mail Delivery System <MAILER-DAEMON@" + report.reporting_mta + ">\r\n";
  out += "To: " + seven_bit(report.to) + "\r\n";
  out += "Subject: " + (report.subject.empty() ? subject_for(report) : seven_bit(report.subject)) + "\r\n";
  out += "Message-ID: " +
         (report.message_id.empty()
              ? "<dsn." + std::to_string(stamp) + "." + std::to_string(counter) + "@" + report.reporting_mta + ">"
              : report.message_id) +
         "\r\n";
  out += "Auto-Submitted: auto-replied\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n\r\n";

  out += "--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + human_text(report) + "\r\n";

  out += "--" + boundary + "\r\nContent-Type: message/delivery-status\r\n\r\n";
  if (!report.envid.empty()) out += "Original-Envelope-Id: " + seven_bit(report.envid) + "\r\n";
  out += "Reporting-MTA: dns;" + report.reporting_mta + "\r\n";
  if (!report.received_from.empty()) out += "Received-From-MTA: dns;" + seven_bit(report.received_from) + "\r\n";
  if (report.arrival != std::chrono::system_clock::time_point{})
    out += "Arrival-Date: " + format_rfc5322_date(report.arrival) + "\r\n";
  for (const auto& r : report.recipients) out += "\r\n" + recipient_block(r);
  out += "\r\n";

  // Success and delay reports carry headers only (RFC 3461 §4.3); so does a
  // failure report without RET=FULL, one too big, or 8-bit content we would
  // have to re-encode to send back over 7bit paths.
  const bool full = failure && report.return_full && report.original.size() <= kMaxReturnedBytes &&
                    !is_eight_bit(report.original);
  if (full) {
    out += "--" + boundary + "\r\nContent-Type: message/rfc822\r\n\r\n" + std::string(report.original);
    if (!report.original.ends_with("\r\n")) out += "\r\n";
  } else {
    std::string headers(header_block(report.original));
    if (is_eight_bit(headers)) headers = seven_bit(headers);
    out += "--" + boundary + "\r\nContent-Type: text/rfc822-headers\r\n\r\n" + headers;
  }
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace umstore::smtp
