// The session's view of its selected folder and how it catches up with
// changes other sessions (or deliveries) made.
#include <algorithm>

#include "response_writer.hpp"
#include "session.hpp"

namespace umstore::imap {

void Session::select_folder(mailstore::FolderPtr folder, bool read_only) {
  deselect();
  SelectedFolder sel;
  sel.folder = std::move(folder);
  sel.read_only = read_only;
  sel.known_counter = sel.folder->change_counter();
  sel.messages = sel.folder->snapshot();
  if (ctx_.watcher) sel.watch = ctx_.watcher->watch(sel.folder);
  for (const auto& m : sel.messages)
    for (const auto& k : m.keywords)
      if (std::find(sel.keywords.begin(), sel.keywords.end(), k) == sel.keywords.end()) sel.keywords.push_back(k);
  selected_ = std::move(sel);
  state_ = kSelected;
  note_recent(0);
  auto& selected = *selected_;
  std::weak_ptr<ChangeNotifier> weak = notifier_;
  auto executor = conn_.executor();
  selected.listener = selected.folder->listen([weak, executor] {
    asio::post(executor, [weak] {
      if (auto n = weak.lock()) {
        n->changed = true;
        n->timer.cancel();
      }
    });
  });
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
  line += "FLAGS " + format_flags(m.flags, m.keywords, selected_->recent.count(m.uid) > 0);
  if (condstore_) line += " MODSEQ (" + std::to_string(m.modseq) + ")";
  line += ")";
  return line;
}

void Session::report_changes(bool allow_expunge) {
  if (!selected_) return;
  auto& sel = *selected_;
  notifier_->changed = false;
  sel.folder->refresh();  // other processes' changes (this process's arrive by counter)
  std::uint64_t counter = sel.folder->change_counter();
  if (counter == sel.known_counter && !(allow_expunge && sel.expunge_pending)) return;
  auto now = sel.folder->snapshot();
  sel.known_counter = counter;
  sel.expunge_pending = false;

  std::vector<mailstore::MessageInfo> merged;
  merged.reserve(std::max(now.size(), sel.messages.size()));
  std::vector<std::size_t> expunged;       // old sequence numbers
  std::vector<std::size_t> flag_changes;   // indexes into merged
  std::size_t j = 0;
  for (std::size_t i = 0; i < sel.messages.size(); ++i) {
    const auto& old = sel.messages[i];
    while (j < now.size() && now[j].uid < old.uid) ++j;  // cannot happen: new UIDs are larger
    if (j < now.size() && now[j].uid == old.uid) {
      if (now[j].flags != old.flags || now[j].keywords != old.keywords || (condstore_ && now[j].modseq != old.modseq))
        flag_changes.push_back(merged.size());
      merged.push_back(std::move(now[j]));
      ++j;
    } else if (allow_expunge) {
      expunged.push_back(i + 1);
      sel.recent.erase(old.uid);
    } else {
      merged.push_back(old);
      sel.expunge_pending = true;
    }
  }
  std::uint32_t last_uid = sel.messages.empty() ? 0 : sel.messages.back().uid;
  const std::size_t first_added = merged.size();
  for (; j < now.size(); ++j) {
    if (now[j].uid <= last_uid) continue;
    merged.push_back(std::move(now[j]));
  }
  const bool added = merged.size() > first_added;
  sel.messages = std::move(merged);
  note_recent(first_added);
  for (auto it = expunged.rbegin(); it != expunged.rend(); ++it) untagged(std::to_string(*it) + " EXPUNGE");
  if (!flag_changes.empty() || added) announce_keywords(sel.messages);
  for (std::size_t index : flag_changes) untagged(fetch_flags_line(index, true));
  if (added) {
    untagged(std::to_string(sel.messages.size()) + " EXISTS");
    untagged(std::to_string(sel.recent.size()) + " RECENT");
  }
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

std::optional<std::vector<std::size_t>> Session::resolve_arg(const Arg& arg, bool uid) const {
  if (arg.kind != Arg::Kind::Atom) return std::nullopt;
  auto set = SequenceSet::parse(arg.text);
  if (!set) return std::nullopt;
  return resolve(*set, uid);
}

}  // namespace umstore::imap
