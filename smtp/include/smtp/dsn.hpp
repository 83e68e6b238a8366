#pragma once
// Delivery status notifications (RFC 3464 message/delivery-status inside an
// RFC 6522 multipart/report): composing the ones the queue sends. Reading
// one back is mime/dsn_report.hpp's.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace umstore::smtp {

enum class DsnAction { Failed, Delayed, Delivered, Relayed };
std::string_view action_name(DsnAction action) noexcept;

struct DsnRecipient {
  std::string original_recipient;  // ORCPT as received ("rfc822;a@b"), empty if none
  std::string final_recipient;     // envelope address, case preserved
  DsnAction action = DsnAction::Failed;
  std::string status;              // "5.1.1"
  std::string remote_mta;          // host name, empty when delivered locally
  std::string diagnostic;          // the SMTP reply "550 5.1.1 ...", empty if none
  std::chrono::system_clock::time_point last_attempt{};
  std::optional<std::chrono::system_clock::time_point> will_retry_until;  // delayed only
  // Reports of what is not mail (faxes sent over the telephone network):
  // the diagnostic's type (RFC 3464 §2.3.6, "X-FAX"), the people's line
  // instead of the action's usual one, and extension fields ("X-Fax-Pages").
  std::string diagnostic_type = "smtp";
  std::string outcome_text;
  std::vector<std::pair<std::string, std::string>> extension_fields;
};

struct DsnReport {
  std::string reporting_mta;       // our host name
  std::string to;                  // the original envelope sender (never empty)
  std::string envid;               // decoded ENVID, empty if none
  std::string received_from;       // "helo ([addr])", may be empty
  std::chrono::system_clock::time_point arrival{};
  std::vector<DsnRecipient> recipients;
  bool return_full = false;        // RET=FULL on a failure report: whole message
  std::string_view original;       // the message as queued (CRLF)
  std::string message_id;          // "<id@host>"; empty: one is made up
  std::string subject;             // empty: the usual one for the actions reported
};

// The whole DSN message, CRLF line ends, 7bit, ready to queue with MAIL FROM:<>.
std::string compose_dsn(const DsnReport& report);

}  // namespace umstore::smtp
