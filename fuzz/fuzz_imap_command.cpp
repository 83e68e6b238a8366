// An IMAP command as a client sends it (lines joined by CRLF, literals
// inline): the command grammar, then what the session reads out of the
// arguments (sequence sets, mailbox names in modified UTF-7 or UTF-8,
// mod-sequences). None may crash, hang or read past the input.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "command_parser.hpp"
#include "mailbox_name.hpp"
#include "sequence_set.hpp"

namespace {

void read_argument(const umstore::imap::Arg& arg, int depth) {
  using namespace umstore::imap;
  if (arg.is_list()) {
    if (depth < 8)
      for (const auto& item : arg.list) read_argument(item, depth + 1);
    return;
  }
  if (const auto set = SequenceSet::parse(arg.text)) {
    (void)set->contains(7, 100);
    (void)set->ranges(100);
  }
  (void)mailbox_from_wire(arg.text, false);
  (void)mailbox_from_wire(arg.text, true);
  (void)pattern_from_wire(arg.text, false);
  if (const auto name = decode_mutf7(arg.text)) (void)encode_mutf7(*name);
  (void)matches_list_pattern(arg.text, "INBOX/Voicemail");
  (void)parse_mod_sequence(arg.text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)umstore::imap::guess_tag(text);
  (void)umstore::imap::trailing_literal(text);
  std::deque<std::string> storage;
  const auto parsed = umstore::imap::parse_command(text, storage);
  if (parsed.command)
    for (const auto& arg : parsed.command->args) read_argument(arg, 0);
  return 0;
}
