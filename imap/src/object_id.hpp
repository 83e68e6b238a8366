#pragma once
// OBJECTID (RFC 8474) identifiers. They are derived, not stored: a
// mailbox's from the folder's id (kept across renames and restarts), a
// message's from a digest of its octets, which a COPY or MOVE keeps, so the
// copy has the source's EMAILID as §5.1 requires (identical APPENDs share
// one, which §5.1 allows).
#include <string>
#include <string_view>

namespace umstore::imap {

// "F" + the folder id: an objectid that never starts with a digit (§8.1).
std::string mailbox_object_id(std::string_view folder_id);
// "M" + 32 hex digits of the SHA-256 of the message.
std::string email_object_id(std::string_view message);

}  // namespace umstore::imap
