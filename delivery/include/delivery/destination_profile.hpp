#pragma once
// What a relayed message becomes for the system that receives it:
//  - vpim: VPIM v2 peers get pure VPIM (RFC 3801): multipart/voice-message at
//    the top, audio/32KADPCM only; the text and WAV/MP3 copies people's
//    clients need are left out;
//  - ivm: Internet voice messaging systems (RFC 4239) get audio/basic
//    (8 kHz mu-law) marked handling=required and no audio/32KADPCM;
//  - playable: ordinary mail domains get the desktop form: the VPIM part
//    unchanged plus a WAV people can play; faxes gain a PDF.
// Pure and thread-safe: bytes in, bytes out.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace umstore::delivery {

enum class DestinationProfile { vpim, ivm, playable };

std::string_view to_string(DestinationProfile profile);  // "vpim", "ivm", "playable"
std::optional<DestinationProfile> parse_destination_profile(std::string_view text);

struct DestinationRules {
  // Recipient domain -> profile; "example.org" matches that domain only,
  // ".example.org" its subdomains.
  std::vector<std::pair<std::string, DestinationProfile>> domains;
  // For every other domain; unset: relayed messages leave as they came.
  std::optional<DestinationProfile> otherwise;
  bool empty() const { return domains.empty() && !otherwise; }
};

// The profile for a recipient address ("+15550100@vpim.example.org"); nullopt: send as is.
std::optional<DestinationProfile> profile_for(const DestinationRules& rules, std::string_view address);

// Parses "vpim.example.org=vpim, ivm.example.net=ivm, *=playable".
// Throws std::invalid_argument naming the bad entry.
DestinationRules parse_destination_rules(std::string_view text);

struct DestinationForm {
  std::string message;             // CRLF; the input unchanged when nothing was to do
  bool changed = false;
  std::vector<std::string> notes;  // what was done or why not, for the log
  // Set when the message must not go to this destination at all (why):
  // a Private VPIM message to an IVM system, which cannot honour privacy
  // (RFC 4239 section 3, RFC 3801 section 4.2.13).
  std::optional<std::string> refusal;
};

// The message rewritten for `profile`. Plain mail, and voice or fax the
// profile has nothing to change in, come back unchanged; so does a message
// whose audio or image cannot be decoded (with a note): relaying it as it
// came is better than losing it.
DestinationForm form_for_destination(std::string_view raw, DestinationProfile profile,
                                     double max_seconds = 3600);

// The relay path's call: the form for `recipient_address`'s domain under
// `rules`; every recipient of one relay transaction must share its
// relay_group. The input unchanged when no rule applies.
DestinationForm form_for_recipient(std::string_view raw, std::string_view recipient_address,
                                   const DestinationRules& rules);

// Recipients whose messages may share one relay transaction have the same
// group: the profile's name, or empty when no rule applies.
std::string relay_group(const DestinationRules& rules, std::string_view address);

}  // namespace umstore::delivery
