// APPEND with flags, date-time and [APPENDUID] (RFC 4315), several messages
// in one command (MULTIAPPEND, RFC 3502: all of them or none).
#include <algorithm>
#include <variant>

#include "response_writer.hpp"
#include "sequence_set.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

struct AppendMessage {
  std::pair<mailstore::Flags, std::vector<std::string>> flags;
  std::optional<std::int64_t> date;
  std::string_view bytes;  // stored as sent, bare LF included, so BODY[] gives it back (RFC 3501 §6.3.11)
};

// "[flags] [date-time] literal" groups after the mailbox name; the error
// text for a tagged BAD otherwise.
std::variant<std::vector<AppendMessage>, std::string> parse_messages(std::span<const Arg> args, bool utf8) {
  std::vector<AppendMessage> out;
  std::size_t at = 0;
  while (at < args.size()) {
    AppendMessage m;
    if (args[at].is_list()) {
      auto parsed = parse_flag_list(args.subspan(at, 1));
      if (!parsed) return std::string("Invalid flag");
      m.flags = std::move(*parsed);
      ++at;
    }
    if (at + 1 < args.size() && args[at].kind == Arg::Kind::String && !args[at].literal &&
        (args[at + 1].kind == Arg::Kind::String || args[at + 1].is_atom("UTF8"))) {
      m.date = parse_date_time(args[at].text);
      if (!m.date) return std::string("Invalid date-time");
      ++at;
    }
    const auto missing = std::string("APPEND needs a mailbox and, per message, optional flags and date and a literal");
    if (at >= args.size()) return missing;
    // RFC 6855 §4: UTF8 (~{n}...) carries a message with UTF-8 headers
    const bool utf8_data = utf8 && at + 1 < args.size() && args[at].is_atom("UTF8") && args[at + 1].is_list() &&
                           args[at + 1].list.size() == 1 && args[at + 1].list[0].literal8;
    if (utf8_data) ++at;
    const Arg& literal = utf8_data ? args[at].list.front() : args[at];
    if (literal.kind != Arg::Kind::String) return missing;
    m.bytes = literal.text;
    if (!literal.literal8 && m.bytes.find('\0') != std::string_view::npos)
      return std::string("NUL octet in a literal: send binary content as literal8 (~{n})");  // RFC 3501 §9 CHAR8
    ++at;
    out.push_back(std::move(m));
  }
  if (out.empty()) return std::string("APPEND needs a message literal");
  return out;
}

}  // namespace

net::Task<void> Session::cmd_append(const Command& cmd) {
  const auto& args = cmd.args;
  std::optional<std::string> name = args.size() >= 2 ? mailbox_arg(args[0]) : std::nullopt;
  auto parsed = name ? parse_messages(std::span<const Arg>(args).subspan(1), utf8_)
                     : std::variant<std::vector<AppendMessage>, std::string>(std::string("APPEND needs a mailbox"));
  if (auto* error = std::get_if<std::string>(&parsed)) {
    reply(cmd, "BAD", *error);
    co_return;
  }
  const auto& messages = std::get<std::vector<AppendMessage>>(parsed);
  if (std::any_of(messages.begin(), messages.end(), [](const AppendMessage& m) { return m.bytes.empty(); })) {
    reply(cmd, "NO", "Empty message");
    co_return;
  }
  mailstore::FolderPtr folder;
  std::vector<std::uint32_t> uids;
  try {
    folder = user_->open(*name);
    for (const auto& m : messages) uids.push_back(folder->append(m.bytes, m.flags.first, m.flags.second, m.date));
    reply(cmd, "OK", "[APPENDUID " + std::to_string(folder->uid_validity()) + " " + format_uid_set(uids) +
                         "] APPEND completed");
    co_return;
  } catch (const mailstore::FolderNotFound&) {
    reply(cmd, "NO", "[TRYCREATE] No such mailbox");
  } catch (const mailstore::InvalidFolderName&) {
    reply(cmd, "NO", "[CANNOT] Invalid mailbox name");
  } catch (const mailstore::QuotaExceeded&) {
    reply(cmd, "NO", "[OVERQUOTA] Mailbox is full");
  }
  // RFC 3502 §6.3.11: a failed MULTIAPPEND leaves none of its messages behind
  if (folder && !uids.empty()) {
    folder->change_flags(uids, mailstore::FlagChange::Add, mailstore::kDeleted);
    folder->expunge(uids);
  }
}

}  // namespace umstore::imap
