#pragma once
// The step after the final dot: the message goes into each recipient's
// INBOX, durably, before the client hears 250. Blocking (the mailstore
// fsyncs): call it on a worker thread, never on an I/O thread.
#include <span>
#include <string>
#include <string_view>

#include "delivery/local_delivery_policy.hpp"
#include "mailstore/mail_store.hpp"

namespace umstore::smtp {

struct LocalRecipient {
  std::string address;  // as the client wrote it, for logs and Received:
  std::string number;   // the E.164 mailbox it maps to
};

// LocalRecipient::number for a gateway's drop address: the mailbox is the
// one the gateway email names in its subject (GatewayRule::mailbox_in_subject).
inline constexpr std::string_view kMailboxFromSubject = "(mailbox named in the subject)";

struct SmtpReplyText {
  int code = 0;
  std::string enhanced;
  std::string text;
};

struct DeliveryJob {
  std::string_view queue_id;
  std::string_view sender;                    // "<a@b>" or "<>"
  std::span<const LocalRecipient> recipients; // distinct numbers
  std::string_view message;                   // with our trace headers
  std::size_t received_octets = 0;            // the client's part, for logs
  // Content processing before storage (playable forms, gateway emails,
  // folders, refusals); nullptr stores the message as it came.
  const delivery::DeliverySettings* policy = nullptr;
};

// Delivers to every recipient and returns the reply for the DATA command.
// The delivery policy and the quota are checked for all recipients first,
// so a refused message or a full mailbox fails before anyone got a copy
// (no duplicates when the client retries).
SmtpReplyText deliver_locally(mailstore::MailStore& store, const DeliveryJob& job);

}  // namespace umstore::smtp
