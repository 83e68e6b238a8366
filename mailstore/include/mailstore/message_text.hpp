#pragma once
// The text IMAP SEARCH BODY and TEXT look in (RFC 3501 §6.4.4), read the
// same way by a scan (imap/) and by a backend's full-text index, so an
// answer narrowed by the index and one from reading every message agree.
#include <string>
#include <string_view>
#include <vector>

#include "mime/message_parser.hpp"

namespace umstore::mailstore {

struct MessageText {
  // The top-level header block as stored and, when it has RFC 2047 encoded
  // words, once more unfolded with them decoded (TEXT looks in both).
  std::vector<std::string> header;
  // Every text/* leaf however deep (and message/* left opaque), transfer
  // encoding removed and text in a known charset converted to UTF-8.
  std::vector<std::string> body;
};

MessageText message_text(const mime::Part& root, std::string_view message);

}  // namespace umstore::mailstore
