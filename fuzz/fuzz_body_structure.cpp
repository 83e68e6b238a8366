// What FETCH writes from a stored message: the metadata the store keeps
// (ENVELOPE from the header block, BODY and BODYSTRUCTURE from the MIME
// tree) and its stored form, ENVELOPE from the whole message, and the
// octets of BODY[section] and BINARY[part]. The input is split at the first NUL into the FETCH items
// ("(BODY[1.2.MIME] BINARY[2]<0.10>)") and the message; without a NUL it
// is all message and a fixed list of items is fetched. None may crash,
// hang or read past the input.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <variant>

#include "command_parser.hpp"
#include "fetch_attributes.hpp"
#include "mailstore/message_metadata.hpp"
#include "mime/imap_structure.hpp"
#include "mime/message_parser.hpp"

namespace {

using namespace umstore;

constexpr std::string_view kDefaultItems =
    "(ENVELOPE BODYSTRUCTURE BODY[HEADER.FIELDS (FROM SUBJECT)] BODY[1] BODY[1.MIME] BODY[2.1.TEXT] "
    "BODY[1.HEADER] BINARY[1] BINARY[2.1]<0.100> BINARY.SIZE[2])";

void fetch_sections(std::string_view items, const mime::Part& root, std::string_view message) {
  std::deque<std::string> storage;
  const auto parsed = imap::parse_arguments(items, storage);
  if (!parsed.args || parsed.args->size() != 1) return;
  const auto request = imap::parse_fetch_request(parsed.args->front(), true);
  const auto* fetch = std::get_if<imap::FetchRequest>(&request);
  if (!fetch) return;
  std::string scratch;
  for (const auto& item : fetch->items) {
    using Kind = imap::FetchItem::Kind;
    if (item.kind == Kind::Section) {
      (void)imap::section_bytes(item.section, root, message, scratch);
    } else if (item.kind == Kind::Binary || item.kind == Kind::BinarySize) {
      std::string_view decoded;
      (void)imap::binary_section(item.section, root, message, scratch, decoded);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const std::string_view items = nul == std::string_view::npos ? kDefaultItems : input.substr(0, nul);
  const std::string_view message = nul == std::string_view::npos ? input : input.substr(nul + 1);

  // What the store keeps at append (the envelope from the header block),
  // which must read back as written; and the input itself as a kept file
  // (a Maildir metadata file is read from disk: it may be anything).
  const mailstore::MessageMetadata kept = mailstore::compute_metadata(message);
  const auto read = mailstore::decode_metadata(mailstore::encode_metadata(kept));
  if (!read || read->header != kept.header || read->envelope != kept.envelope || read->body != kept.body ||
      read->body_structure != kept.body_structure)
    __builtin_trap();
  (void)mailstore::decode_metadata(input);

  const auto root = mime::parse_message(message);
  std::string out;
  mime::append_envelope(out, root, message);
  fetch_sections(items, root, message);
  return 0;
}
