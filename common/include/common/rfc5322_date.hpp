#pragma once
// Dates as RFC 5322 writes them: "Sat, 21 Nov 2026 19:40:01 +0000".
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace umstore {

using SystemTime = std::chrono::system_clock::time_point;

// Formats in UTC offset "+0000" unless an offset in minutes is given.
std::string format_rfc5322_date(SystemTime when, int utc_offset_minutes = 0);

// IMAP INTERNALDATE form: "21-Nov-2026 19:40:01 +0000".
std::string format_imap_date(SystemTime when);

// Parses the RFC 5322 date-time (day name optional, obsolete zones accepted).
std::optional<SystemTime> parse_rfc5322_date(std::string_view text);

}  // namespace umstore
