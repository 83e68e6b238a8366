// The session's view of its selected folder and how it catches up with
// changes other sessions (or deliveries) made.
#include <algorithm>
#include <iterator>

#include "response_writer.hpp"
#include "session.hpp"

namespace umstore::imap {

void Session::select_folder(mailstore::FolderPtr folder, bool read_only) {
  deselect();
  SelectedFolder sel;
  sel.folder = std::move(folder);
  sel.read_only = read_only;
  // The mod-sequence before the snapshot: a change in between is reported
  // once more by the first catch-up, which finds nothing to say about it.
  sel.known_counter = sel.folder->change_counter();
  const auto status = sel.folder->status();
  sel.known_modseq = status.highest_modseq;
  sel.uid_next = status.uid_next;
  sel.messages = sel.folder->snapshot();
  for (const auto& m : sel.messages)
    for (const auto& k : m.keywords)
      if (std::find(sel.keywords.begin(), sel.keywords.end(), k) == sel.keywords.end()) sel.keywords.push_back(k);
  selected_ = std::move(sel);
  state_ = kSelected;
  note_recent(0);
  auto& selected = *selected_;
  selected.listener = selected.folder->listen(wake_on_change());
  selected.hears_everyone = selected.folder->listeners_hear_everyone();
}

mailstore::Folder::Listener Session::wake_on_change() {
  std::weak_ptr<ChangeNotifier> weak = notifier_;
  return [weak, executor = conn_.executor()] {
    asio::post(executor, [weak] {
      if (auto n = weak.lock()) {
        n->changed = true;
        n->timer.cancel();
      }
    });
  };
}

void Session::note_recent(std::size_t from) {
  auto& sel = *selected_;
  if (from >= sel.messages.size()) return;
  // RFC 3501 §6.3.2: EXAMINE must not take \Recent away from other sessions.
  std::uint32_t first = UINT32_MAX;
  try {
    first = sel.read_only ? sel.folder->first_recent_uid() : sel.folder->claim_recent(sel.messages.back().uid + 1);
  } catch (const mailstore::FolderNotFound&) {
    return;  // deleted meanwhile: nothing is recent in it
  }
  for (std::size_t i = from; i < sel.messages.size(); ++i)
    if (sel.messages[i].uid >= first) sel.recent.insert(sel.messages[i].uid);
}

void Session::enable_condstore() {
  if (condstore_) return;
  condstore_ = true;
  if (selected_)
    untagged("OK [HIGHESTMODSEQ " + std::to_string(selected_->folder->status().highest_modseq) + "] Highest");
}

void Session::deselect() {
  selected_.reset();
  if (state_ == kSelected) state_ = kAuthenticated;
}

void Session::update_message(const mailstore::MessageInfo& info) {
  if (!selected_) return;
  auto& msgs = selected_->messages;
  auto it = std::lower_bound(msgs.begin(), msgs.end(), info.uid,
                             [](const mailstore::MessageInfo& m, std::uint32_t uid) { return m.uid < uid; });
  if (it != msgs.end() && it->uid == info.uid) *it = info;
  // This session's own changes move its live searches too (RFC 5267 §4.3).
  if (!selected_->live_searches.empty()) selected_->live_touched.insert(info.uid);
}

void Session::announce_keywords(std::span<const mailstore::MessageInfo> messages) {
  auto& known = selected_->keywords;
  bool added = false;
  for (const auto& m : messages)
    for (const auto& k : m.keywords)
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        known.push_back(k);
        added = true;
      }
  if (added) send_flags_responses();
}

void Session::send_flags_responses() {
  std::string flags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
  for (const auto& k : selected_->keywords) flags += " " + k;
  untagged("FLAGS (" + flags + ")");
  if (selected_->read_only)
    untagged("OK [PERMANENTFLAGS ()] Read-only mailbox");
  else
    untagged("OK [PERMANENTFLAGS (" + flags + " \\*)] Flags permitted");
}

std::string Session::fetch_flags_line(std::size_t index, bool with_uid) const {
  const auto& m = selected_->messages[index];
  std::string line = std::to_string(index + 1) + " FETCH (";
  if (with_uid) line += "UID " + std::to_string(m.uid) + " ";
  line += "FLAGS " + format_flags(m.flags, m.keywords, shows_recent(m.uid));
  if (condstore_) line += " MODSEQ (" + std::to_string(m.modseq) + ")";
  line += ")";
  return line;
}

namespace {

// What changed between the messages a session holds and the folder now,
// from a whole snapshot: for when the store no longer knows every expunge
// since the session's mod-sequence (FolderChanges::expunged_complete).
mailstore::FolderChanges changes_by_snapshot(const mailstore::Folder& folder,
                                             std::span<const mailstore::MessageInfo> held) {
  mailstore::FolderChanges changes;
  changes.highest_modseq = folder.status().highest_modseq;  // before the snapshot, as at select
  changes.changed = folder.snapshot();
  std::size_t j = 0;
  for (const auto& m : held) {
    while (j < changes.changed.size() && changes.changed[j].uid < m.uid) ++j;
    if (j == changes.changed.size() || changes.changed[j].uid != m.uid) changes.expunged.push_back(m.uid);
  }
  return changes;
}

}  // namespace

// Catches up with the store incrementally (Folder::changes_since): only
// what changed after the session's mod-sequence is read and compared, so a
// flag change in a folder of 100,000 messages costs one message, not a
// snapshot. Reports expunges (when allowed), flag changes and new messages.
std::size_t Session::report_changes(bool allow_expunge, bool report_flags) {
  if (!selected_) return 0;
  auto& sel = *selected_;
  notifier_->changed = false;
  sel.folder->refresh();  // other processes' changes now, not when the backend's watch gets to them
  const std::uint64_t counter = sel.folder->change_counter();
  const bool expunges_owed = allow_expunge && !sel.pending_expunges.empty();
  if (counter == sel.known_counter && !expunges_owed) {
    report_live_changes();
    return sel.messages.size();
  }
  auto changes = sel.folder->changes_heard_since(sel.known_modseq);
  if (!changes.expunged_complete) changes = changes_by_snapshot(*sel.folder, sel.messages);
  sel.known_counter = counter;
  sel.known_modseq = changes.highest_modseq;

  auto& msgs = sel.messages;
  const auto find = [&msgs](std::uint32_t uid) {
    auto it = std::lower_bound(msgs.begin(), msgs.end(), uid,
                               [](const mailstore::MessageInfo& m, std::uint32_t u) { return m.uid < u; });
    return it != msgs.end() && it->uid == uid ? it : msgs.end();
  };
  for (std::uint32_t uid : changes.expunged)
    if (find(uid) != msgs.end()) sel.pending_expunges.insert(uid);

  const std::uint32_t last_uid = msgs.empty() ? 0 : msgs.back().uid;
  std::vector<std::uint32_t> flags_changed;
  std::vector<mailstore::MessageInfo> added;
  for (const auto& info : changes.changed) {
    if (info.uid > last_uid) {
      added.push_back(info);
      continue;
    }
    const auto it = find(info.uid);
    if (it == msgs.end()) continue;  // expunged and already reported
    if (it->flags != info.flags || it->keywords != info.keywords || (condstore_ && it->modseq != info.modseq)) {
      if (!report_flags) {
        // Read again from before this change next time, when flags may be told.
        sel.known_modseq = std::min(sel.known_modseq, info.modseq - 1);
        sel.known_counter = counter - 1;
        continue;
      }
      flags_changed.push_back(info.uid);
    }
    *it = info;
  }

  if (allow_expunge && !sel.pending_expunges.empty()) {
    // Highest sequence number first, so each number sent is still valid;
    // once QRESYNC is on, one VANISHED by UID instead (RFC 7162 §3.2.10.2).
    report_live_removals(sel.pending_expunges);
    std::vector<std::uint32_t> vanished;
    for (std::size_t i = msgs.size(); i-- > 0;) {
      if (!sel.pending_expunges.contains(msgs[i].uid)) continue;
      if (qresync_)
        vanished.push_back(msgs[i].uid);
      else
        untagged(std::to_string(i + 1) + " EXPUNGE");
      sel.recent.erase(msgs[i].uid);
      msgs.erase(msgs.begin() + static_cast<std::ptrdiff_t>(i));
    }
    std::reverse(vanished.begin(), vanished.end());
    if (!vanished.empty()) untagged("VANISHED " + format_uid_set(vanished));
    sel.pending_expunges.clear();
  }
  const std::size_t first_added = msgs.size();
  msgs.insert(msgs.end(), std::make_move_iterator(added.begin()), std::make_move_iterator(added.end()));
  note_recent(first_added);
  if (!flags_changed.empty() || !added.empty()) announce_keywords(changes.changed);
  for (std::uint32_t uid : flags_changed) {
    const auto it = find(uid);
    if (it != msgs.end()) untagged(fetch_flags_line(static_cast<std::size_t>(it - msgs.begin()), true));
  }
  if (!added.empty()) {
    untagged(std::to_string(msgs.size()) + " EXISTS");
    if (!rev2_) untagged(std::to_string(sel.recent.size()) + " RECENT");
  }
  if (!sel.live_searches.empty()) {
    sel.live_touched.insert(flags_changed.begin(), flags_changed.end());
    for (std::size_t i = first_added; i < msgs.size(); ++i) sel.live_touched.insert(msgs[i].uid);
  }
  report_live_changes();
  return first_added;
}

std::vector<std::size_t> Session::resolve(const SequenceSet& set, bool uid) const {
  std::vector<std::size_t> out;
  if (!selected_) return out;
  const auto& msgs = selected_->messages;
  if (msgs.empty()) return out;
  std::uint32_t star = uid ? msgs.back().uid : static_cast<std::uint32_t>(msgs.size());
  for (std::size_t i = 0; i < msgs.size(); ++i)
    if (set.contains(uid ? msgs[i].uid : static_cast<std::uint32_t>(i + 1), star)) out.push_back(i);
  return out;
}

std::optional<SequenceSet> Session::sequence_set_arg(const Arg& arg) const {
  if (arg.kind != Arg::Kind::Atom) return std::nullopt;
  if (arg.text == "$") return SequenceSet::of(selected_->saved);
  return SequenceSet::parse(arg.text);
}

std::optional<std::vector<std::size_t>> Session::resolve_arg(const Arg& arg, bool uid) const {
  const auto set = sequence_set_arg(arg);
  if (!set) return std::nullopt;
  return resolve(*set, uid || arg.text == "$");
}

}  // namespace umstore::imap
