// STORE and UID STORE.
#include <algorithm>

#include "response_writer.hpp"
#include "common/ascii.hpp"
#include "sequence_set.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

struct FlagArgs {
  mailstore::Flags flags = 0;
  std::vector<std::string> keywords;
};

bool collect_flag(const Arg& a, FlagArgs& out) {
  if (a.kind != Arg::Kind::Atom && a.kind != Arg::Kind::Nil) return false;  // NIL is a keyword atom
  if (auto f = system_flag(a.text)) {
    out.flags |= *f;
    return true;
  }
  if (ascii_iequals(a.text, "\\Recent")) return true;  // not storable; ignored
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
  // STORE set [(UNCHANGEDSINCE n)] item flags (RFC 7162 §3.1.3)
  std::optional<std::uint64_t> unchanged_since;
  std::size_t item_at = 1;
  if (cmd.args.size() >= 2 && cmd.args[1].is_list()) {
    const auto& modifiers = cmd.args[1].list;
    if (modifiers.size() != 2 || !modifiers[0].is_atom("UNCHANGEDSINCE") || modifiers[1].kind != Arg::Kind::Atom ||
        !(unchanged_since = parse_mod_sequence(modifiers[1].text))) {
      reply(cmd, "BAD", "The only STORE modifier is (UNCHANGEDSINCE mod-sequence)");
      co_return;
    }
    item_at = 2;
  }
  if (cmd.args.size() < item_at + 2 || cmd.args[item_at].kind != Arg::Kind::Atom) {
    reply(cmd, "BAD", "STORE needs a sequence set, an item and flags");
    co_return;
  }
  std::string item = ascii_upper(cmd.args[item_at].text);
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
  auto flags = parse_flag_list(std::span<const Arg>(cmd.args).subspan(item_at + 1));
  const auto indexes = resolve_arg(cmd.args[0], uid);
  if (!indexes || !flags) {
    reply(cmd, "BAD", indexes ? "Invalid flag" : "Invalid sequence set");
    co_return;
  }
  auto& sel = *selected_;
  if (sel.read_only) {
    reply(cmd, "NO", "[READ-ONLY] Mailbox is read-only");
    co_return;
  }
  if (unchanged_since) enable_condstore();
  std::vector<std::uint32_t> uids;
  for (std::size_t i : *indexes) uids.push_back(sel.messages[i].uid);
  std::vector<std::uint32_t> modified;  // UIDs that failed the UNCHANGEDSINCE test
  if (!uids.empty()) {
    auto result = unchanged_since ? sel.folder->change_flags_unchanged_since(uids, how, flags->first, flags->second,
                                                                             *unchanged_since)
                                  : mailstore::ConditionalFlagChange{
                                        sel.folder->change_flags(uids, how, flags->first, flags->second), {}};
    for (const auto& info : result.changed) update_message(info);
    announce_keywords(result.changed);
    modified = std::move(result.modified);
  }
  std::vector<std::uint32_t> modified_numbers;
  for (std::size_t i : *indexes) {
    const auto& m = sel.messages[i];
    if (std::binary_search(modified.begin(), modified.end(), m.uid)) {
      modified_numbers.push_back(uid ? m.uid : static_cast<std::uint32_t>(i + 1));
    } else if (!silent) {
      untagged(fetch_flags_line(i, uid));
    } else if (unchanged_since) {
      // A conditional STORE reports the new mod-sequences even when silent.
      untagged(std::to_string(i + 1) + " FETCH (" + (uid ? "UID " + std::to_string(m.uid) + " " : std::string()) +
               "MODSEQ (" + std::to_string(m.modseq) + "))");
    }
  }
  if (!modified_numbers.empty())
    reply(cmd, "OK", "[MODIFIED " + format_uid_set(modified_numbers) + "] Conditional STORE failed for some messages");
  else
    reply(cmd, "OK", cmd.name + " completed");
}

}  // namespace umstore::imap
