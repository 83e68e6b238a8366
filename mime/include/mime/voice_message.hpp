#pragma once
// Composes the standard messages umstore stores and sends:
//  - VPIM v2 voice messages (RFC 3801): multipart/voice-message; version=2.0,
//    audio/32KADPCM with Content-Disposition voice=Voice-Message and
//    Content-Duration, from non-mail-user@domain for call-answer messages,
//    Caller-ID/Caller-Name (RFC 3939), Message-Context: voice-message (RFC 3458);
//  - simple-mode Internet fax messages (RFC 3965): image/tiff; application=faxbw,
//    Message-Context: fax-message.
// A playable copy for people's mail clients (WAV, PDF) can be added; see
// docs/message-structure.md for where it goes and why, and
// mime/people_text.hpp for the text and file names people see.
// Output uses CRLF line ends throughout.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::mime {

struct Caller {
  std::string number;  // as the network gave it: "+15550123" or an extension "4401"; may be empty (withheld)
  std::string name;    // UTF-8 display name; may be empty
};

struct Recipient {
  std::string address;  // "+15550100@vm.example.net"
  std::string name;     // UTF-8 display name; may be empty
};

// RFC 3801 §4.2.13: Private must be honoured by the receiver (no forwarding);
// the other two values are only sent when a user chose them.
enum class Sensitivity { normal, personal, private_, company_confidential };
enum class Importance { normal, low, high };  // RFC 3801 §4.2 (Importance); normal is not written

// Header options shared by voice and fax messages.
struct MessageOptions {
  Sensitivity sensitivity = Sensitivity::normal;
  Importance importance = Importance::normal;
  std::string notification_address;  // non-empty: Disposition-Notification-To (an MDN request, RFC 8098)
  std::optional<Recipient> originator;  // a subscriber sending or forwarding; unset: call answer, non-mail-user@domain
};

// What the destination gets (a per-destination delivery profile).
enum class VoiceForm {
  automatic,  // vpim without playable copies, desktop with them (what umstore stores for people)
  vpim,       // pure VPIM v2 toward VPIM systems: multipart/voice-message, audio/32KADPCM only
  desktop,    // multipart/mixed: text, the VPIM part unchanged, playable WAV/MP3 attachments
  ivm,        // RFC 4239 for unknown Internet mail systems: multipart/mixed, audio/basic (.au, headerless
              // mu-law) marked handling=required, playable copies handling=optional; no audio/32KADPCM
};

struct VoiceMessageInput {
  std::string domain;                         // our mail domain, for non-mail-user@, Message-ID
  Caller caller;
  Recipient recipient;
  std::chrono::system_clock::time_point received;
  int utc_offset_minutes = 0;                 // mailbox time zone for Date and the text
  std::span<const std::uint8_t> adpcm32k;     // audio/32KADPCM, RFC 3802 packing, 8 kHz
  double duration_seconds = 0;                // exact audio length
  std::optional<std::span<const std::uint8_t>> playable_wav;  // audio/wav for desktop clients
  std::string message_id_hint;                // unique token for Message-ID; random when empty
  VoiceForm form = VoiceForm::automatic;
  std::optional<std::span<const std::uint8_t>> playable_mp3;  // audio/mpeg for desktop clients (e.g. codecs::encode_mp3)
  std::optional<std::span<const std::uint8_t>> ulaw;          // raw G.711 mu-law, 8 kHz: required for VoiceForm::ivm
  std::optional<std::span<const std::uint8_t>> spoken_name_adpcm32k;  // voice=Originator-Spoken-Name (VPIM and desktop)
  std::optional<std::string> originator_vcard;  // text/directory (RFC 2426); RFC 3801 SHOULD NOT: only for peers that ask
  std::vector<std::string_view> forwarded;      // whole messages (CRLF) forwarded as message/rfc822 (RFC 3801 §4.8)
  MessageOptions options;
  // An automatic transcript (recognition/); empty: none. Desktop form only:
  // a text part at the top and the X-Voicemail-Transcript field (people_text.hpp).
  std::string transcript;
};

// What a fax destination gets.
enum class FaxForm {
  automatic,  // desktop when a PDF is given, else ifax
  ifax,       // simple-mode Internet fax (RFC 3965) for other systems: the TIFF at top level; a note adds a text part
  desktop,    // people's mailboxes: multipart/mixed of a text saying from whom, how many pages and when,
              // the note, the TIFF as an attachment and the PDF when given
};

struct FaxMessageInput {
  std::string domain;
  Caller caller;
  Recipient recipient;
  std::chrono::system_clock::time_point received;
  int utc_offset_minutes = 0;
  std::span<const std::uint8_t> tiff;         // TIFF-F profile S
  unsigned pages = 0;
  std::optional<std::span<const std::uint8_t>> pdf;  // playable form for people
  std::string note;  // a sentence for the reader (a reception that ended early); adds a text part
  std::string message_id_hint;
  MessageOptions options;
  FaxForm form = FaxForm::automatic;
  // Automatic text recognition of the pages (recognition/); empty: none.
  // Each becomes a text part before the TIFF, in either form.
  std::string text_first_lines;  // the first lines of page 1
  std::string recognised_text;   // every page
};

// Thrown when the input cannot make a valid message (no domain, no usable
// recipient address); the message names the field to fix.
class ComposeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

std::string compose_voice_message(const VoiceMessageInput& in);
std::string compose_fax_message(const FaxMessageInput& in);

// Helpers shared by subjects and the text (mime/people_text.hpp has the rest).
std::string format_duration(double seconds);       // "0:23", "1:02:03"
// International format by libphonenumber: "+4930123456" -> "+49 30 123456";
// what is not E.164 (extensions, withheld) is returned as written.
std::string format_number_for_people(std::string_view e164);

// Whole seconds for Content-Duration (RFC 3803): rounded up, so 22.1 s of
// audio says 23; at least 1 for any audio, at most 2^31-1.
long long content_duration_seconds(double seconds);

}  // namespace umstore::mime
