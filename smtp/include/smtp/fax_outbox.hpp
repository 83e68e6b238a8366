#pragma once
// Mail to telephone numbers as faxes (RFC 3192 "FAX=+12025550123@domain"):
// at RCPT the SMTP server asks the outbox whether an address names a fax
// number and whether this client may send there, and at the end of DATA
// hands it the message. The outbox (faxout/) renders, queues and dials;
// the SMTP server knows only this interface.
#include <string>
#include <string_view>
#include <vector>

#include "smtp/delivery_queue.hpp"
#include "smtp/smtp_client.hpp"

namespace umstore::smtp {

// Who is sending: only they may reach the telephone network.
struct FaxSubmitter {
  std::string user;              // the mailbox number after AUTH; empty without
  bool trusted_network = false;  // the client is in trusted_networks
};

struct FaxRecipientVerdict {
  bool is_fax = false;     // false: not a fax address, the usual recipient checks apply
  bool refused = false;    // a fax address this client may not send to: `reply` says why
  SmtpReply reply;
  std::string number;      // E.164, once accepted
  std::string sub_address; // RFC 3192 /T33S=, may be empty
};

struct FaxSubmission {
  std::string id;             // the SMTP queue id, for logs and replies
  std::string sender;         // envelope sender, empty for <>
  FaxSubmitter submitter;
  std::string ret, envid;     // RFC 3461
  std::string received_from;  // "helo ([addr])"
  struct Recipient {
    std::string address;      // as accepted
    std::string number;
    std::string sub_address;
    std::string orcpt;
    NotifyRequest notify;
  };
  std::vector<Recipient> recipients;
};

class FaxOutbox {
 public:
  virtual ~FaxOutbox() = default;
  // At RCPT, on an I/O thread (parsing only): whether it names a fax number at all.
  virtual bool is_fax_address(std::string_view address) const = 0;
  // Then, on the delivery pool (a page budget may be a database row).
  virtual FaxRecipientVerdict check_recipient(std::string_view address, const FaxSubmitter& submitter) const = 0;
  // At the end of DATA, on the delivery pool: renders the pages and keeps
  // the job durably; the reply to give (250 only once it is on disk).
  virtual SmtpReply submit(const FaxSubmission& submission, std::string_view message) = 0;
};

}  // namespace umstore::smtp
