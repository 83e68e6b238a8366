#pragma once
// What to store for one message arriving for one local mailbox (Postfix's
// cleanup + local idea), decided right before the SMTP server stores it:
//  - inbound VPIM v2 from other systems keeps every original part and gains
//    a playable WAV for people's mail clients (audio/32KADPCM plays nowhere);
//  - Internet faxes open with a short text and carry the TIFF as an
//    attachment (people's form; a PDF too when the mailbox wants one);
//  - plain voicemail emails from configured gateways (Asterisk and the like:
//    a text part and a WAV attachment) become proper VPIM messages;
//  - malformed voice/fax content is refused with an SMTP-ready reason;
//  - the folder follows the message kind when the mailbox asks for it.
// Pure and thread-safe: bytes in, bytes out; no sockets, no files, no clock.
#include <chrono>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/destination_profile.hpp"
#include "mailstore/account_store.hpp"
#include "mime/conformance.hpp"

namespace umstore::delivery {

// The recipient mailbox's own settings.
struct MailboxProfile {
  bool file_by_kind = false;  // voice into voice_folder, fax into fax_folder; else all into INBOX
  std::string voice_folder = "Voicemail";
  std::string fax_folder = "Fax";
  mailstore::PlayableAudio playable = mailstore::PlayableAudio::wav;  // the copy next to audio/32KADPCM
  bool fax_pdf = false;        // a PDF copy next to the TIFF image
  int utc_offset_minutes = 0;  // for the text people read
};

// The profile an administrator stored for the mailbox (`umstore mailbox set`);
// the defaults when the account is unknown.
MailboxProfile mailbox_profile(const mailstore::AccountStore& accounts, std::string_view number);

// Where a message of `kind` goes in a mailbox with `mailbox`'s settings.
std::string folder_for(mime::MessageKind kind, const MailboxProfile& mailbox);

// A telephone gateway whose voicemail emails are turned into VPIM messages:
// an email from one of `senders` (and to one of `recipients`, when given).
// Patterns are ECMAScript regular expressions; the first capture group is used.
struct GatewayRule {
  std::vector<std::string> senders;  // From or envelope sender: "asterisk@pbx.example.org" or "@pbx.example.org"
  std::vector<std::string> caller_number_headers = {"X-Asterisk-VM-Caller-ID-Num", "X-Asterisk-CallerID"};
  std::vector<std::string> caller_name_headers = {"X-Asterisk-VM-Caller-ID-Name", "X-Asterisk-CallerIDName"};
  std::string caller_in_subject = R"(from\s+(\+?[0-9]{2,20}))";      // fallback when no header names the caller
  std::string mailbox_in_subject = R"(for\s+(\+[0-9]{2,15}))";       // the mailbox, when the email goes to a drop address
  // Also required when set: the RCPT TO address ("+15550100@vm.example.net" or "@vm.example.net").
  // The mailbox is the subject's (mailbox_in_subject), else the recipient's local part.
  std::vector<std::string> recipients;
  std::optional<int> utc_offset_minutes;  // zone of the composed Date and text (the PBX's); unset: the mailbox's
};

struct DeliverySettings {
  std::string domain;                 // our mail domain (non-mail-user@, Message-ID, mailbox addresses)
  std::vector<GatewayRule> gateways;  // none: no conversion
  bool accept_private = false;        // RFC 3801 §4.2.13: a system that cannot stop forwarding must refuse Private
  double max_playable_seconds = 3600; // longer audio is stored without a WAV copy
  DestinationRules destinations;      // what relayed messages become per recipient domain
  // The stored profile of a mailbox (e.g. mailbox_profile bound to the account
  // store); unset: every mailbox has the MailboxProfile defaults.
  std::function<MailboxProfile(std::string_view number)> mailbox_profiles;
  // Whether a mailbox exists, for gateway emails naming theirs in the subject;
  // unset: every number does.
  std::function<bool(std::string_view number)> mailbox_exists;
};

// A full address in a gateway rule's recipients ("voicemail@vm.example.net"):
// mail to it names its mailbox in the subject, so RCPT accepts it for any.
bool is_gateway_drop_address(const DeliverySettings& settings, std::string_view address);

// settings.mailbox_profiles(number), or the defaults.
MailboxProfile profile_of_mailbox(const DeliverySettings& settings, std::string_view number);

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

// A message umstore composed itself (ingest, SIP: the desktop form with a
// WAV, or a fax) in the form `mailbox` asks for: the WAV replaced by an MP3
// or left out (pure VPIM), a fax in people's form (text, TIFF attachment,
// PDF when the mailbox wants one); and the folder it goes to.
struct MailboxForm {
  std::string message;  // CRLF; the input unchanged when nothing was to do
  std::string folder = "INBOX";
  mime::MessageKind kind = mime::MessageKind::plain;
  std::vector<std::string> notes;
};
MailboxForm form_for_mailbox(std::string_view composed, const MailboxProfile& mailbox,
                             double max_playable_seconds = 3600);
// The same, taking the composed message over (no copy when it stays as it is).
MailboxForm form_for_mailbox(std::string&& composed, const MailboxProfile& mailbox,
                             double max_playable_seconds = 3600);

// Throws PolicyError naming the first pattern of `rule` that is not a regular
// expression, or when the rule names no sender; for checking configuration at start.
void check_gateway_rule(const GatewayRule& rule);

DeliveryPlan plan_local_delivery(const InboundMessage& in, const MailboxProfile& mailbox,
                                 const DeliverySettings& settings);

}  // namespace umstore::delivery
