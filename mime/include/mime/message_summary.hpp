#pragma once
// What a stored message is, for people and admins (exports, erasure, the
// console): its kind, caller, date, and how long or how many pages. Read
// from the headers umstore writes (RFC 3458 Message-Context, RFC 3939
// Caller-ID and Caller-Name, RFC 3803 Content-Duration, the fax's TIFF) and
// from what other systems send (a VPIM From: +NUMBER@domain).
#include <optional>
#include <string>
#include <string_view>

namespace umstore::mime {

struct MessageSummary {
  std::string kind = "mail";         // "voice", "fax" or "mail"
  std::string caller;                // "+15550123", an extension "7720", or empty: withheld or unknown
  std::string caller_name;           // UTF-8
  std::string subject;               // UTF-8
  std::string date;                  // the Date: header as written
  std::optional<unsigned> seconds;   // voice: the recording's Content-Duration
  std::optional<unsigned> pages;     // fax: pages of its TIFF
};

// Bounded like parse_message; never throws on malformed input.
MessageSummary summarise_message(std::string_view raw);

}  // namespace umstore::mime
