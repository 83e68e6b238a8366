#pragma once
// Formatting of IMAP response data: strings (atom, quoted or literal), flag
// lists and dates. Pure functions that append to a string.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mailstore/message.hpp"
#include "mime/imap_structure.hpp"

namespace umstore::imap {

// Strings and NIL-or-strings: written once, in mime/ (ENVELOPE and
// BODYSTRUCTURE are written with them when a message is stored).
using mime::append_nstring;
using mime::append_string;
// Atom when the text is a valid atom, else as append_string.
void append_astring(std::string& out, std::string_view s, bool utf8 = false);

// "(\Seen \Flagged $Forwarded)" (with \Recent when asked).
std::string format_flags(mailstore::Flags flags, std::span<const std::string> keywords, bool recent = false);

// "21-Nov-2026 19:40:01 +0000" from seconds since the epoch.
std::string format_internal_date(std::int64_t seconds);

// Parses IMAP date ("1-Feb-1994") to the UTC midnight in seconds.
std::optional<std::int64_t> parse_search_date(std::string_view text);
// The day an RFC 5322 Date: value names as written ("Mon, 23 Nov 2026
// 23:30 -0500" is 23 Nov, whatever the zone), as UTC midnight in seconds;
// the comparison base of SENTON/SENTBEFORE/SENTSINCE (RFC 3501 §6.4.4).
std::optional<std::int64_t> parse_written_day(std::string_view rfc5322_date);
// Parses APPEND date-time ("21-Nov-2026 19:40:01 +0000") to seconds.
std::optional<std::int64_t> parse_date_time(std::string_view text);

// System flag by name ("\Seen"); nullopt for keywords and \Recent.
std::optional<mailstore::Flags> system_flag(std::string_view name);
// Keywords must be atoms without "\".
bool is_valid_keyword(std::string_view name);

}  // namespace umstore::imap
