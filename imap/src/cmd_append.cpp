// APPEND with flags, date-time and [APPENDUID] (RFC 4315).
#include "common/line_ends.hpp"
#include "response_writer.hpp"
#include "session.hpp"

namespace umstore::imap {

net::Task<void> Session::cmd_append(const Command& cmd) {
  const auto& args = cmd.args;
  std::optional<std::string> name = args.size() >= 2 ? mailbox_arg(args[0]) : std::nullopt;
  if (!name || args.size() > 4 || args.back().kind != Arg::Kind::String) {
    reply(cmd, "BAD", "APPEND needs a mailbox, optional flags and date, and a message literal");
    co_return;
  }
  std::size_t next = 1;
  std::pair<mailstore::Flags, std::vector<std::string>> flags;
  if (args[next].is_list()) {
    auto parsed = parse_flag_list(std::span<const Arg>(&args[next], 1));
    if (!parsed) {
      reply(cmd, "BAD", "Invalid flag");
      co_return;
    }
    flags = std::move(*parsed);
    ++next;
  }
  std::optional<std::int64_t> date;
  if (next + 1 < args.size()) {
    date = args[next].kind == Arg::Kind::String ? parse_date_time(args[next].text) : std::nullopt;
    if (!date) {
      reply(cmd, "BAD", "Invalid date-time");
      co_return;
    }
    ++next;
  }
  if (next + 1 != args.size()) {
    reply(cmd, "BAD", "Invalid APPEND arguments");
    co_return;
  }
  std::string_view message = args.back().text;
  if (message.empty()) {
    reply(cmd, "NO", "Empty message");
    co_return;
  }
  try {
    auto folder = user_->open(*name);
    std::string converted;
    if (has_bare_lf(message)) {
      converted = with_crlf(message);
      message = converted;
    }
    std::uint32_t uid = folder->append(message, flags.first, flags.second, date);
    reply(cmd, "OK", "[APPENDUID " + std::to_string(folder->uid_validity()) + " " + std::to_string(uid) +
                         "] APPEND completed");
  } catch (const mailstore::FolderNotFound&) {
    reply(cmd, "NO", "[TRYCREATE] No such mailbox");
  } catch (const mailstore::InvalidFolderName&) {
    reply(cmd, "NO", "[CANNOT] Invalid mailbox name");
  } catch (const mailstore::QuotaExceeded&) {
    reply(cmd, "NO", "[OVERQUOTA] Mailbox is full");
  }
}

}  // namespace umstore::imap
