#pragma once
// Mailbox names on the wire: modified UTF-7 (RFC 3501 §5.1.3) <-> UTF-8,
// and LIST pattern matching with "*" and "%".
#include <optional>
#include <string>
#include <string_view>

namespace umstore::imap {

inline constexpr char kHierarchyDelimiter = '/';

// nullopt for malformed modified UTF-7.
std::optional<std::string> decode_mutf7(std::string_view wire);
std::string encode_mutf7(std::string_view utf8);

// Client name -> store name: decodes (modified UTF-7, or UTF-8 as it is once
// the client enabled UTF8=ACCEPT, RFC 6855), maps any-case "INBOX" to
// "INBOX" and strips one trailing delimiter.
std::optional<std::string> mailbox_from_wire(std::string_view wire, bool utf8 = false);

// A LIST pattern (reference and mailbox joined) as a store name pattern.
std::optional<std::string> pattern_from_wire(std::string_view wire, bool utf8);

// RFC 3501 §6.3.8: "*" matches anything, "%" anything but the delimiter.
// INBOX is matched case-insensitively.
bool matches_list_pattern(std::string_view pattern, std::string_view name);

}  // namespace umstore::imap
