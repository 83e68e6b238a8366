// What FETCH writes from a stored message: ENVELOPE (from the header block,
// as the fetch cache builds it, and from the whole message), BODY and
// BODYSTRUCTURE from the MIME tree, and the octets of BODY[section] and
// BINARY[part]. The input is split at the first NUL into the FETCH items
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
#include "message_structure.hpp"
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

  const auto end = message.find("\r\n\r\n");
  const std::string_view header = end == std::string_view::npos ? message : message.substr(0, end + 4);
  std::string out;
  imap::append_envelope(out, mime::parse_message(header), header);

  const auto root = mime::parse_message(message);
  out.clear();
  imap::append_envelope(out, root, message);
  out.clear();
  imap::append_body_structure(out, root, message, false);
  out.clear();
  imap::append_body_structure(out, root, message, true);
  fetch_sections(items, root, message);
  return 0;
}
