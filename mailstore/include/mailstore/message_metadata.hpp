#pragma once
// What IMAP lists a folder with, computed once when a message is stored and
// kept by the backend beside it (Dovecot keeps the same in
// dovecot.index.cache, Stalwart in its message metadata), so that FETCH of
// ENVELOPE, BODY, BODYSTRUCTURE or the header, on any node, after any
// restart, never reads and parses the message again. All four depend on the
// message's bytes alone, which never change under a UID.
#include <optional>
#include <string>
#include <string_view>

namespace umstore::mailstore {

struct MessageMetadata {
  std::string header;          // the top-level header block with its final empty line (mime::header_block)
  std::string envelope;        // the ENVELOPE answer, "(date subject from ...)"
  std::string body;            // BODY (the non-extensible BODYSTRUCTURE)
  std::string body_structure;  // BODYSTRUCTURE
};

MessageMetadata compute_metadata(std::string_view rfc822);

// The stored form: versioned and checksummed, so a torn or foreign file
// (a Maildir sidecar after a crash) reads as nothing rather than as garbage.
std::string encode_metadata(const MessageMetadata& metadata);
std::optional<MessageMetadata> decode_metadata(std::string_view stored);

}  // namespace umstore::mailstore
