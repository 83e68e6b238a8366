// COPY, MOVE and their UID forms (RFC 4315 COPYUID, RFC 6851 MOVE).
#include "sequence_set.hpp"
#include "session.hpp"
#include "store_error.hpp"

namespace umstore::imap {

net::Task<void> Session::cmd_copy(const Command& cmd) {
  bool uid = is_uid_command(cmd);
  bool move = cmd.name.ends_with("MOVE");
  std::optional<std::string> target_name = cmd.args.size() == 2 ? mailbox_arg(cmd.args[1]) : std::nullopt;
  const auto indexes = cmd.args.size() == 2 ? resolve_arg(cmd.args[0], uid) : std::nullopt;
  if (!indexes || !target_name) {
    reply(cmd, "BAD", cmd.name + " needs a sequence set and a mailbox");
    co_return;
  }
  auto& sel = *selected_;
  if (move && sel.read_only) {
    reply(cmd, "NO", "[READ-ONLY] Mailbox is read-only");
    co_return;
  }
  mailstore::FolderPtr target;
  if (const auto error = store_error_of([&] { target = user_->open(*target_name); }, kTryCreate)) {
    reply(cmd, "NO", *error);
    co_return;
  }
  std::vector<std::uint32_t> uids;
  for (std::size_t i : *indexes) uids.push_back(sel.messages[i].uid);
  if (uids.empty()) {
    reply(cmd, "OK", cmd.name + " completed (no messages)");
    co_return;
  }
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
  try {
    pairs = sel.folder->copy_to(*target, uids);
  } catch (const mailstore::QuotaExceeded&) {
    reply(cmd, "NO", "[OVERQUOTA] Mailbox is full");
    co_return;
  }
  std::vector<std::uint32_t> from, to;
  for (const auto& [src, dst] : pairs) {
    from.push_back(src);
    to.push_back(dst);
  }
  std::string copyuid = "[COPYUID " + std::to_string(target->uid_validity()) + " " + format_uid_set(from) + " " +
                        format_uid_set(to) + "]";
  if (!move) {
    reply(cmd, "OK", copyuid + " " + cmd.name + " completed");
    co_return;
  }
  untagged("OK " + copyuid + " Moved");
  sel.folder->change_flags(from, mailstore::FlagChange::Add, mailstore::kDeleted);
  sel.folder->expunge(std::span<const std::uint32_t>(from));
  report_changes(true);
  // RFC 6851 §4.4: the mod-sequence the move leads to, for CONDSTORE-aware clients.
  if (condstore_)
    reply(cmd, "OK", "[HIGHESTMODSEQ " + std::to_string(sel.known_modseq) + "] " + cmd.name + " completed");
  else
    reply(cmd, "OK", cmd.name + " completed");
}

}  // namespace umstore::imap
