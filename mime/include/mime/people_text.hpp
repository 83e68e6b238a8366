#pragma once
// What people read about a voice or fax message, written once: the short text
// part that opens it and the names of its attachments. Every path uses it, so
// a message reads the same whichever made it: composed from a recording,
// rewritten into a mailbox's form (MP3, PDF, people's fax) or relayed form
// (IVM), or arriving as VPIM/IFAX from another system and gaining a playable
// copy. See docs/message-structure.md.
#include <span>
#include <string>
#include <string_view>

#include "common/rfc5322_date.hpp"
#include "mime/message_parser.hpp"
#include "mime/voice_message.hpp"

namespace umstore::mime {

// Who a message is from and when, as people's text and file names say it.
struct MessageOrigin {
  Caller caller;               // the calling party; both empty when withheld or not a call
  std::string sender;          // when there is no caller: who sent it (a subscriber, a mail sender); may be empty
  SystemTime received{};
  int utc_offset_minutes = 0;  // the zone the time is shown in
};

// The origin a message's header states: Caller-ID (RFC 3939; "+" and the
// digits for NumberingPlan=e164) and Caller-Name, else the From display name
// or address (but not non-mail-user@, which names nobody), and the Date, in
// its own zone: so a message rewritten into another form reads as composed.
MessageOrigin origin_of(const Part& root);

// "Alice Example (+49 30 123456)", "+49 30 123456", "Alice Example",
// a sender, else "Unknown caller". Numbers in international format.
std::string origin_for_people(const MessageOrigin& origin);
// The same without the number when there is a name: for subjects and From display names.
std::string origin_short(const MessageOrigin& origin);

// "voicemail-+4930123456-2026-12-05-1423.wav": what (`stem`), who (the
// number, else the name, else the sender, else "unknown"; safe characters
// only, UTF-8 letters kept for RFC 2231) and when (local time), then `extension`.
std::string attachment_name(const MessageOrigin& origin, std::string_view stem, std::string_view extension);

// The text parts, CRLF, UTF-8:
//   Voice message from Alice Example (+49 30 123456), 0:23, received Sat 5 Dec 2026 14:23 +0000.
//   [It forwards 2 earlier messages.]
//   The recording is attached as voicemail-+4930123456-2026-12-05-1423.wav.
std::string voice_text(const MessageOrigin& origin, double seconds, std::size_t forwarded,
                       std::span<const std::string> attachments);
//   Fax from Alice Example (+49 30 123456), 2 pages, received Sat 5 Dec 2026 14:23 +0000.
//   The fax is attached as fax-+4930123456-2026-12-05-1423.tif and fax-+4930123456-2026-12-05-1423.pdf.
// `pages` 0: not said.
std::string fax_text(const MessageOrigin& origin, unsigned pages, std::span<const std::string> attachments);

// Automatic text recognition (recognition/), in the messages people read:
// a voice message's transcript opens it, in a text part and in this header
// field (RFC 2047 when non-ASCII, folded, at most kTranscriptFieldBytes of
// it); never in the pure VPIM form sent to voice-mail systems.
inline constexpr std::string_view kTranscriptField = "X-Voicemail-Transcript";
inline constexpr std::size_t kTranscriptFieldBytes = 900;
//   Transcript (automatic, may contain errors):
//
//   hello this is john calling about the meeting ...   (wrapped at 76)
std::string transcript_text(std::string_view transcript);
//   First lines of the fax (automatic text recognition, may contain errors):
//
//   INVOICE 2024-0117 ...
std::string fax_first_lines_text(std::string_view lines);
//   Text recognised on the pages (automatic, may contain errors):
//
//   (every page, as recognised)
std::string fax_recognised_text(std::string_view text);

// A whole text/plain; charset=utf-8 entity (header fields, empty line, body):
// 7bit when ASCII with lines of at most 76 characters, else quoted-printable.
// `disposition` is the Content-Disposition value.
std::string text_entity(std::string_view utf8_text, std::string_view disposition = "inline");

// A Content-Disposition value: `type; filename="..."`, with RFC 2231 sections
// (filename*0*=utf-8''...) when the name is not plain ASCII, folded so lines
// stay under 78 characters.
std::string content_disposition(std::string_view type, std::string_view filename);

}  // namespace umstore::mime
