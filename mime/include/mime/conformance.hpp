#pragma once
// Conformance findings for one message: the RFC 5322 / MIME rules every
// message must follow, plus the VPIM v2 rules (RFC 3801, 3802, 3803, 3939)
// when the message carries multipart/voice-message, and the simple-mode
// Internet fax rules (RFC 3965, TIFF profile S of RFC 3949) when it carries a
// fax image. Used by `umstore validate` and by inbound delivery to decide what
// to refuse. Pure and thread-safe: bytes in, findings out.
#include <string>
#include <string_view>
#include <vector>

#include "mime/message_parser.hpp"

namespace umstore::mime {

enum class Severity { warning, error };

struct Finding {
  Severity severity = Severity::error;
  std::string rule;      // the rule broken, with RFC and section: "RFC 3801 §4.3 (Content-Disposition)"
  std::string location;  // "header", or an IMAP part number such as "part 1.2"
  std::string text;      // what is wrong, for a person
};

// What the message is, as vpim.md §16 classifies it.
enum class MessageKind {
  plain,         // ordinary mail
  vpim_voice,    // multipart/voice-message at top level or inside multipart/mixed
  other_voice,   // voice without VPIM structure: Message-Context: voice-message or voice=Voice-Message (IVM)
  internet_fax,  // Message-Context: fax-message or an image/tiff(-fx) content
};

std::string_view describe(MessageKind kind);  // "VPIM v2 voice message", ...

// Classifies an already parsed message (`root` from parse_message(raw)).
MessageKind classify_message(const Part& root);

// The multipart/voice-message part: the root, or a direct child of a
// top-level multipart/mixed; nullptr when there is none.
const Part* find_voice_message(const Part& root);

struct ConformanceReport {
  MessageKind kind = MessageKind::plain;
  std::vector<Finding> findings;  // in message order
  bool has_errors() const;
  bool has_warnings() const;
};

// Never throws for any input; a message that cannot be parsed at all gives
// error findings.
ConformanceReport check_message(std::string_view raw);

// "error: RFC 5322 §3.6 [header] the message has no Date field"
std::string format_finding(const Finding& finding);

}  // namespace umstore::mime
