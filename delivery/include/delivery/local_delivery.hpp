#pragma once
// The one way a message becomes a stored message (Dovecot's mail_deliver,
// Stalwart's delivery module): the SMTP session, the SMTP queue runner and
// the ingest queue all call LocalDelivery::deliver. It
//  - shapes each recipient's copy: mail that arrived over SMTP through
//    plan_local_delivery, messages umstore composed through form_for_mailbox;
//  - adds the trace headers once: Return-Path (RFC 5321 §4.4), this hop's
//    Received when given, and X-Umstore-Ingest-Id for composed messages;
//  - keeps the whole-message rule: a refused message or a full mailbox
//    fails before anyone got a copy, so a retry makes no duplicates;
//  - after an interrupted attempt, finds copies stored under the same
//    idempotency key (SMTP queue id, ingest id) instead of storing again;
//  - returns what happened per recipient as a typed result.
// Blocking (the mailstore fsyncs): call it on a worker thread, never on an
// I/O thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "delivery/local_delivery_policy.hpp"
#include "mailstore/mail_store.hpp"

namespace umstore::delivery {

// How the message came to be, which decides how a mailbox's copy is shaped.
enum class MessageOrigin {
  Smtp,    // from another system or client: plan_local_delivery (when there is a policy)
  Ingest,  // composed by umstore from a recording: form_for_mailbox
};

struct LocalRecipient {
  std::string address;  // as the sender wrote it, for the policy, logs and Received
  std::string number;   // the E.164 mailbox, or kMailboxFromSubject
};

// LocalRecipient::number for a gateway's drop address: the mailbox is the
// one the gateway email names in its subject (GatewayRule::mailbox_in_subject).
inline constexpr std::string_view kMailboxFromSubject = "(mailbox named in the subject)";

// This hop, for its Received header (RFC 5321 §4.4). `from` empty: the
// message carries its Received already (mail the SMTP queue kept).
struct Trace {
  std::string from;             // "client.example ([192.0.2.1])", "http:gw1"
  std::string by;               // our host name
  std::string agent = "umstore";
  std::string protocol;         // "ESMTP", "ESMTPS"; empty: none named
};

// "Received: from ... by ... id <id> [for <recipient>]; <date>\r\n". The
// recipient is named only when there is one: naming all would leak Bcc.
std::string received_header(const Trace& trace, std::string_view id, std::span<const LocalRecipient> recipients,
                            std::chrono::system_clock::time_point when);

// Where the copies go: the folders the policy plans (INBOX, Voicemail, Fax),
// or every copy into the mailbox's \Junk folder (RFC 6154; made as "Junk"
// when the mailbox has none): mail whose sender failed DMARC with
// p=quarantine.
enum class Filing { AsPlanned, Quarantine };

struct DeliveryRequest {
  std::string_view key{};   // idempotency key: the SMTP queue id, the ingest id
  MessageOrigin origin = MessageOrigin::Smtp;
  std::string_view sender{};  // envelope sender without brackets; empty: <>
  std::span<const LocalRecipient> recipients{};  // distinct mailboxes
  std::string_view message{};  // CRLF line ends, without our trace headers
  Trace trace{};
  Filing filing = Filing::AsPlanned;
  // An earlier attempt may have stored copies before the process died:
  // look for `key` in the target folders first.
  bool after_interruption = false;
  // Called right before each copy is stored, with its mailbox and folder
  // (the ingest queue records the attempt durably there); may throw, which
  // fails the delivery as a local error.
  std::function<void(std::string_view number, std::string_view folder)> on_storing{};
};

struct Stored {
  std::string number;  // the mailbox (the one named in the subject for a drop address)
  std::string folder;
  std::uint32_t uid = 0;
  bool earlier = false;  // found from an interrupted attempt, not stored now
};

// Nothing stored for this recipient; trying again later may succeed.
struct TemporaryFailure {
  enum class Cause { OverQuota, LocalError };
  Cause cause = Cause::LocalError;
  std::string reason;  // "mailbox +15550100 is over its quota"
};

// One result per request recipient, in the same order. A refusal
// (SmtpRefusal: code, enhanced code, text ready for an SMTP reply) is
// permanent and, like a full mailbox, applies to every recipient.
using RecipientResult = std::variant<Stored, TemporaryFailure, SmtpRefusal>;

struct DeliveryResult {
  std::vector<RecipientResult> recipients;
  bool all_stored() const;
};

class LocalDelivery {
 public:
  // policy: how mail arriving over SMTP is shaped and which profiles
  // mailboxes have; nullopt stores SMTP mail as it came, and composed
  // messages in the MailboxProfile defaults.
  LocalDelivery(mailstore::MailStore& store, std::optional<DeliverySettings> policy);

  DeliveryResult deliver(const DeliveryRequest& request) const;

 private:
  mailstore::MailStore& store_;
  std::optional<DeliverySettings> policy_;
};

}  // namespace umstore::delivery
