// EXPUNGE, UID EXPUNGE, CLOSE and UNSELECT.
#include "session.hpp"

namespace umstore::imap {

net::Task<void> Session::cmd_expunge(const Command& cmd) {
  bool uid = is_uid_command(cmd);
  auto& sel = *selected_;
  if (sel.read_only) {
    reply(cmd, "NO", "[READ-ONLY] Mailbox is read-only");
    co_return;
  }
  bool removed = false;
  if (uid) {
    const auto indexes = cmd.args.size() == 1 ? resolve_arg(cmd.args[0], true) : std::nullopt;
    if (!indexes) {
      reply(cmd, "BAD", "UID EXPUNGE needs a UID set");
      co_return;
    }
    std::vector<std::uint32_t> uids;
    for (std::size_t i : *indexes) uids.push_back(sel.messages[i].uid);
    if (!uids.empty()) removed = !sel.folder->expunge(std::span<const std::uint32_t>(uids)).empty();
  } else {
    if (!cmd.args.empty()) {
      reply(cmd, "BAD", "EXPUNGE takes no arguments");
      co_return;
    }
    removed = !sel.folder->expunge().empty();
  }
  report_changes(true);
  // RFC 7162 §3.2.7: a QRESYNC client learns the mod-sequence its VANISHED leads to.
  if (qresync_ && removed)
    reply(cmd, "OK", "[HIGHESTMODSEQ " + std::to_string(sel.known_modseq) + "] " + cmd.name + " completed");
  else
    reply(cmd, "OK", cmd.name + " completed");
}

net::Task<void> Session::cmd_close(const Command& cmd) {
  if (!cmd.args.empty()) {
    reply(cmd, "BAD", cmd.name + " takes no arguments");
    co_return;
  }
  // CLOSE expunges silently; UNSELECT does not.
  if (cmd.name == "CLOSE" && !selected_->read_only) selected_->folder->expunge();
  deselect();
  reply(cmd, "OK", cmd.name + " completed");
}

}  // namespace umstore::imap
