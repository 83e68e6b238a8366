#pragma once
// FETCH attributes (RFC 3501 §6.4.5) and BODY[section] extraction.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "command_parser.hpp"
#include "mime/message_parser.hpp"

namespace umstore::imap {

struct Section {
  enum class Text { Whole, Header, HeaderFields, HeaderFieldsNot, Text, Mime };
  std::vector<std::uint32_t> part;  // "1.2" -> {1, 2}; empty = the message
  Text text = Text::Whole;
  std::vector<std::string> fields;  // for HEADER.FIELDS[.NOT], upper-case
};

struct FetchItem {
  // Binary and BinarySize (RFC 3516) use `section.part` only.
  // Modseq: RFC 7162 (CONDSTORE). EmailId, ThreadId: RFC 8474 (OBJECTID). SaveDate: RFC 8514.
  enum class Kind {
    Flags, Uid, InternalDate, Size, Envelope, Body, BodyStructure, Section, Binary, BinarySize, Modseq,
    EmailId, ThreadId, SaveDate,
  };
  Kind kind = Kind::Flags;
  Section section;
  bool peek = false;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> partial;  // origin, octets
  std::string label;  // response name, e.g. "BODY[HEADER.FIELDS (FROM)]<0>" or "RFC822"
};

struct FetchRequest {
  std::vector<FetchItem> items;
  bool needs_bytes = false;  // anything but FLAGS/UID/INTERNALDATE/SAVEDATE/RFC822.SIZE
  bool sets_seen = false;    // a non-PEEK body section
  bool has_binary = false;   // BINARY[...] or BINARY.SIZE[...]
};

// What is wrong with a FETCH's attributes: the text of the tagged BAD.
struct FetchSyntaxError {
  std::string text;
};

// `arg` is an atom (FLAGS, ALL, BODY[1]) or a list of atoms. Adds UID when `uid_command`.
std::variant<FetchRequest, FetchSyntaxError> parse_fetch_request(const Arg& arg, bool uid_command);

// The octets a section names, or nullopt when the part does not exist
// (FETCH then returns an empty string). HEADER.FIELDS builds into `scratch`.
std::optional<std::string_view> section_bytes(const Section& section, const mime::Part& root, std::string_view message,
                                              std::string& scratch);

// BINARY[part]: the part's body with its Content-Transfer-Encoding undone
// (base64, quoted-printable; 7bit/8bit/binary as they are); the whole
// message for an empty part path, a multipart or message part's body as it
// is. Decoded bytes go into `scratch`; without `decode` only the status is
// worked out.
enum class BinaryStatus { Ok, NoSuchPart, UnknownEncoding };
BinaryStatus binary_section(const Section& section, const mime::Part& root, std::string_view message,
                            std::string& scratch, std::string_view& out, bool decode = true);

}  // namespace umstore::imap
