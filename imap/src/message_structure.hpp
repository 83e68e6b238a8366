#pragma once
// ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 §7.4.2) from the MIME parser's tree.
#include <string>
#include <string_view>
#include <vector>

#include "mime/message_parser.hpp"

namespace umstore::imap {

struct Address {
  std::string name;     // display name as written (encoded words kept); empty = NIL
  std::string route;    // obsolete source route "@a,@b" (the adl field); empty = NIL
  std::string mailbox;  // local part; for a group start the group name
  std::string host;     // empty = NIL (group start/end)
  bool group_start = false;
  bool group_end = false;
};
std::vector<Address> parse_address_list(std::string_view unfolded);

// `message` is a part holding a header (the root, or a message/rfc822 child).
void append_envelope(std::string& out, const mime::Part& message, std::string_view bytes);
// BODY (extended = false) or BODYSTRUCTURE (extended = true).
void append_body_structure(std::string& out, const mime::Part& part, std::string_view bytes, bool extended);

// The first header field's value, unfolded and trimmed.
std::optional<std::string> header_value(const mime::Part& part, std::string_view name);

}  // namespace umstore::imap
