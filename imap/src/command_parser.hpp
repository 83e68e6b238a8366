#pragma once
// The IMAP command grammar without sockets (Dovecot's lib-imap/imap-parser.c
// idea): a complete command, its lines joined by CRLF with every literal's
// octets inline after its "{n}" CRLF, parsed into a tree of arguments.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::imap {

struct Arg {
  enum class Kind { Atom, String, List, Nil };
  Kind kind = Kind::Atom;
  std::string_view text;  // atom text or string value (quoted strings unescaped)
  std::vector<Arg> list;
  bool literal = false;   // a String sent as {n} or ~{n}, not quoted
  bool literal8 = false;  // a String sent as ~{n} (RFC 3516)

  bool is_atom(std::string_view upper) const;  // case-insensitive
  bool is_list() const { return kind == Kind::List; }
  // astring: atom or string. NIL is an atom too (RFC 3501 §9), so it names
  // a mailbox, a keyword or a search string "NIL" where an astring goes.
  bool is_astring() const { return kind != Kind::List; }
};

struct Command {
  std::string tag;
  std::string name;  // upper-case; "UID FETCH" style for UID commands
  std::vector<Arg> args;
};

// A literal announced at the end of a line: "{12}" or "{12+}".
struct LiteralHeader {
  std::uint64_t size = 0;
  bool synchronizing = true;
};
std::optional<LiteralHeader> trailing_literal(std::string_view line);

// The tag of a (maybe malformed) command line, for error replies; "*" when none.
std::string_view guess_tag(std::string_view text);

// Parses a whole command. `storage` keeps unescaped quoted strings alive as
// long as the Command is used. Returns the error text for a tagged BAD.
struct ParseResult {
  std::optional<Command> command;
  std::string error;
};
ParseResult parse_command(std::string_view text, std::deque<std::string>& storage);

// Just the arguments (a command's, a FETCH section's header-field list).
struct ArgumentsResult {
  std::optional<std::vector<Arg>> args;
  std::string error;  // why there are none
};
ArgumentsResult parse_arguments(std::string_view text, std::deque<std::string>& storage);

// RFC 7162 mod-sequence-valzer: 0 to 2^63 - 1 (UNCHANGEDSINCE 0 is legal,
// and CHANGEDSINCE 0 from lenient clients does no harm).
std::optional<std::uint64_t> parse_mod_sequence(std::string_view text);


}  // namespace umstore::imap
