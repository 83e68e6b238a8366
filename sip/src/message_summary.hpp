#pragma once
// The message-summary event package (RFC 3842): what a phone's lamp shows.
#include <string>
#include <string_view>

#include "mailstore/folder.hpp"

namespace umstore::sip {

struct MessageCounts {
  unsigned voice_new = 0, voice_old = 0;
  unsigned fax_new = 0, fax_old = 0;
  bool waiting() const { return voice_new + fax_new > 0; }
};

// New = not \Seen. Fax or voice by the message's Message-Context header
// (RFC 3458); anything that is not a fax counts as voice.
MessageCounts count_messages(const mailstore::Folder& inbox);

// application/simple-message-summary body.
std::string message_summary_body(const MessageCounts& counts, std::string_view account_uri);

}  // namespace umstore::sip
