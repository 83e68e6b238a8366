#pragma once
// What to store for one message arriving for one local mailbox (Postfix's
// cleanup + local idea), decided right before the SMTP server stores it:
//  - inbound VPIM v2 from other systems keeps every original part and gains
//    a playable WAV for people's mail clients (audio/32KADPCM plays nowhere);
//  - plain voicemail emails from configured gateways (Asterisk and the like:
//    a text part and a WAV attachment) become proper VPIM messages;
//  - malformed voice/fax content is refused with an SMTP-ready reason;
//  - the folder follows the message kind when the mailbox asks for it.
// Pure and thread-safe: bytes in, bytes out; no sockets, no files, no clock.
#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "mime/conformance.hpp"

namespace umstore::delivery {

// The recipient mailbox's own settings.
struct MailboxProfile {
  bool file_by_kind = false;  // voice into voice_folder, fax into fax_folder; else all into INBOX
  std::string voice_folder = "Voicemail";
  std::string fax_folder = "Fax";
  bool playable_audio = true;  // add audio/wav next to audio/32KADPCM
  int utc_offset_minutes = 0;  // for the text people read
};

// A telephone gateway whose voicemail emails are turned into VPIM messages.
// Patterns are ECMAScript regular expressions; the first capture group is used.
struct GatewayRule {
  std::vector<std::string> senders;  // From or envelope sender: "asterisk@pbx.example.org" or "@pbx.example.org"
  std::vector<std::string> caller_number_headers = {"X-Asterisk-VM-Caller-ID-Num", "X-Asterisk-CallerID"};
  std::vector<std::string> caller_name_headers = {"X-Asterisk-VM-Caller-ID-Name", "X-Asterisk-CallerIDName"};
  std::string caller_in_subject = R"(from\s+(\+?[0-9]{2,20}))";      // fallback when no header names the caller
  std::string mailbox_in_subject = R"(for\s+(\+[0-9]{2,15}))";       // the mailbox, when the email goes to a drop address
};

struct DeliverySettings {
  std::string domain;                 // our mail domain (non-mail-user@, Message-ID, mailbox addresses)
  std::vector<GatewayRule> gateways;  // none: no conversion
  bool accept_private = false;        // RFC 3801 §4.2.13: a system that cannot stop forwarding must refuse Private
  double max_playable_seconds = 3600; // longer audio is stored without a WAV copy
};

struct InboundMessage {
  std::string_view raw;              // the whole message, CRLF line ends
  std::string_view envelope_sender;  // MAIL FROM, without brackets; empty for <>
  std::string_view recipient;        // RCPT TO address of this local mailbox
  std::chrono::system_clock::time_point received;
};

// A reply to give instead of storing the message.
struct SmtpRefusal {
  int reply_code = 554;
  std::string enhanced_status = "5.6.0";  // RFC 3463
  std::string text;
  std::string reply_line() const;  // "554 5.6.0 text"
};

struct DeliveryPlan {
  std::optional<SmtpRefusal> refusal;  // set: answer with it and store nothing
  std::string message;                 // what to store, CRLF; the input unchanged when nothing was to do
  std::string folder = "INBOX";
  mime::MessageKind kind = mime::MessageKind::plain;  // of the stored message
  std::string mailbox;                 // gateway email for another mailbox (E.164, from its subject); empty: the recipient
  std::vector<std::string> notes;      // what was changed or found, one line each, for the log
};

// Thrown for settings that cannot work (a pattern that is not a regular expression).
class PolicyError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

DeliveryPlan plan_local_delivery(const InboundMessage& in, const MailboxProfile& mailbox,
                                 const DeliverySettings& settings);

}  // namespace umstore::delivery
