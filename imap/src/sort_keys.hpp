#pragma once
// The keys SORT and THREAD (RFC 5256) order and group messages by.
#include <cstdint>
#include <string>
#include <string_view>

#include "mailstore/message.hpp"
#include "mime/message_parser.hpp"

namespace umstore::imap {

// RFC 5256 §2.1: the subject without "Re:", "Fwd:", "[list]" and "(fwd)"
// decorations (encoded words decoded), in lower case for i;ascii-casemap
// comparison.

struct BaseSubject {
  std::string text;
  // §2.1: a "Re:"/"Fwd:" leader, "(fwd)" trailer or "[fwd: ...]" wrapper was removed.
  bool reply_or_forward = false;
};

BaseSubject base_subject(std::string_view subject);

// RFC 5256 §2.2 "sent date": the Date: header field's instant, or the
// internal date when it has none that parses; seconds since the epoch.
std::int64_t sent_date(const mime::Part& header, const mailstore::MessageInfo& info);

}  // namespace umstore::imap
