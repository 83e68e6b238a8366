// STORE and UID STORE.
#include "response_writer.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

struct FlagArgs {
  mailstore::Flags flags = 0;
  std::vector<std::string> keywords;
};

bool collect_flag(const Arg& a, FlagArgs& out) {
  if (a.kind != Arg::Kind::Atom) return false;
  if (auto f = system_flag(a.text)) {
    out.flags |= *f;
    return true;
  }
  if (iequals(a.text, "\\Recent")) return true;  // not storable; ignored
  if (a.text.starts_with('\\') || !is_valid_keyword(a.text)) return false;
  out.keywords.emplace_back(a.text);
  return true;
}

}  // namespace

std::optional<std::pair<mailstore::Flags, std::vector<std::string>>> parse_flag_list(std::span<const Arg> args) {
  FlagArgs out;
  for (const Arg& a : args) {
    if (a.is_list()) {
      for (const Arg& inner : a.list)
        if (!collect_flag(inner, out)) return std::nullopt;
    } else if (!collect_flag(a, out)) {
      return std::nullopt;
    }
  }
  return std::make_pair(out.flags, std::move(out.keywords));
}

net::Task<void> Session::cmd_store(const Command& cmd) {
  bool uid = is_uid_command(cmd);
  if (cmd.args.size() < 3 || cmd.args[1].kind != Arg::Kind::Atom) {
    reply(cmd, "BAD", "STORE needs a sequence set, an item and flags");
    co_return;
  }
  std::string item = to_upper(cmd.args[1].text);
  bool silent = item.ends_with(".SILENT");
  if (silent) item.resize(item.size() - 7);
  mailstore::FlagChange how;
  if (item == "FLAGS") how = mailstore::FlagChange::Replace;
  else if (item == "+FLAGS") how = mailstore::FlagChange::Add;
  else if (item == "-FLAGS") how = mailstore::FlagChange::Remove;
  else {
    reply(cmd, "BAD", "Unknown STORE item");
    co_return;
  }
  auto flags = parse_flag_list(std::span<const Arg>(cmd.args).subspan(2));
  bool set_ok = false;
  auto indexes = resolve_arg(cmd.args[0], uid, set_ok);
  if (!set_ok || !flags) {
    reply(cmd, "BAD", set_ok ? "Invalid flag" : "Invalid sequence set");
    co_return;
  }
  auto& sel = *selected_;
  if (sel.read_only) {
    reply(cmd, "NO", "[READ-ONLY] Mailbox is read-only");
    co_return;
  }
  std::vector<std::uint32_t> uids;
  for (std::size_t i : indexes) uids.push_back(sel.messages[i].uid);
  if (!uids.empty())
    for (const auto& info : sel.folder->change_flags(uids, how, flags->first, flags->second)) update_message(info);
  if (!silent)
    for (std::size_t i : indexes) untagged(fetch_flags_line(i, uid));
  reply(cmd, "OK", cmd.name + " completed");
}

}  // namespace umstore::imap
