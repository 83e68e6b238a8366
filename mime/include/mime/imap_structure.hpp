#pragma once
// ENVELOPE and BODY/BODYSTRUCTURE (RFC 3501 §7.4.2) from the MIME parser's
// tree. Here rather than in imap/ because the store computes them once, when
// a message is appended, and keeps them (mailstore/message_metadata.hpp):
// they depend on the message's bytes alone, never on a session.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "message_parser.hpp"

namespace umstore::mime {

// An IMAP string: quoted when possible, else a literal. `utf8`: the client
// accepts UTF-8 in quoted strings (RFC 9051 after ENABLE IMAP4rev2, RFC
// 6855 UTF8=ACCEPT); ENVELOPE and BODYSTRUCTURE never assume it.
void append_string(std::string& out, std::string_view s, bool utf8 = false);
// NIL for nullopt.
void append_nstring(std::string& out, std::optional<std::string_view> s);

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
void append_envelope(std::string& out, const Part& message, std::string_view bytes);
// BODY (extended = false) or BODYSTRUCTURE (extended = true).
void append_body_structure(std::string& out, const Part& part, std::string_view bytes, bool extended);

// The first header field's value, unfolded and trimmed.
std::optional<std::string> header_value(const Part& part, std::string_view name);

}  // namespace umstore::mime
