#include "pg_folder_mirror.hpp"

#include <algorithm>

namespace umstore::mailstore::pg {

void FolderMirror::catch_up(const Read& read) {
  bool loaded = false;
  std::uint64_t since = 0;
  const std::uint64_t heard = heard_.load();
  {
    std::lock_guard lock(mutex_);
    loaded = loaded_;
    since = modseq_;
  }
  // A first read takes every message and no expunges: they are of no use
  // to a copy that starts now.
  FolderDelta delta = loaded ? read(since, MailTables::Expunges::with) : read(0, MailTables::Expunges::without);
  std::lock_guard lock(mutex_);
  // uid_next and first_recent only grow; first_recent moves without a
  // mod-sequence (a session claiming \Recent), so take the larger.
  uid_next_ = std::max(uid_next_, delta.uid_next);
  first_recent_ = std::max(first_recent_, delta.first_recent);
  // Whichever read is applied, the state here is at least as new as this one's.
  heard_when_read_ = std::max(heard_when_read_, heard);
  if (loaded_ && delta.highest_modseq <= modseq_) return;  // another read got this far first
  uid_validity_ = delta.uid_validity;
  if (!loaded) {
    // A whole list, newer than what is here (if anything is): it replaces
    // it, and the expunges before it are not known here.
    messages_ = std::move(delta.changed);
    recount();
    modseq_ = expunges_from_ = delta.highest_modseq;
    expunged_.clear();
    loaded_ = true;
    return;
  }
  apply(std::move(delta));
}

void FolderMirror::apply(FolderDelta delta) {
  // The delta reads the folder as of delta.highest_modseq, later than
  // this copy, and from at most this copy's mod-sequence: its rows are the
  // messages' newest states.
  for (MessageInfo& m : delta.changed) {
    auto it = messages_.end();
    if (!messages_.empty() && m.uid <= messages_.back().uid)
      it = std::lower_bound(messages_.begin(), messages_.end(), m.uid,
                            [](const MessageInfo& a, std::uint32_t uid) { return a.uid < uid; });
    const bool held = it != messages_.end() && it->uid == m.uid;
    if (held) count(*it, -1);  // first: the row may come again with the same mod-sequence
    count(m, 1);
    if (held) *it = std::move(m);
    else messages_.insert(it, std::move(m));
  }
  if (!delta.expunged.empty()) {
    std::vector<std::uint32_t> gone;  // ascending, as the delta lists them
    for (const auto& e : delta.expunged) gone.push_back(e.uid);
    std::erase_if(messages_, [&](const MessageInfo& m) {
      const bool expunged = std::binary_search(gone.begin(), gone.end(), m.uid);
      if (expunged) count(m, -1);
      return expunged;
    });
    std::sort(delta.expunged.begin(), delta.expunged.end(),
              [](const FolderDelta::Expunged& a, const FolderDelta::Expunged& b) { return a.modseq < b.modseq; });
    for (const auto& e : delta.expunged)
      if (e.modseq > modseq_) expunged_.push_back(e);
    forget_old_expunges();
  }
  modseq_ = delta.highest_modseq;
}

void FolderMirror::count(const MessageInfo& m, int sign) {
  if (sign > 0) by_modseq_.emplace(m.modseq, m.uid);
  else by_modseq_.erase({m.modseq, m.uid});
  const auto step = static_cast<std::uint32_t>(sign);
  if (!(m.flags & kSeen)) unseen_ += step;
  if (m.flags & kDeleted) deleted_ += step;
  size_ += static_cast<std::uint64_t>(static_cast<std::int64_t>(sign) * static_cast<std::int64_t>(m.size));
}

void FolderMirror::recount() {
  unseen_ = deleted_ = 0;
  size_ = 0;
  by_modseq_.clear();
  for (const auto& m : messages_) count(m, 1);
}

void FolderMirror::forget_old_expunges() {
  if (expunged_.size() <= kExpungesKept) return;
  const auto dropped = expunged_.begin() + static_cast<std::ptrdiff_t>(expunged_.size() / 2);
  expunges_from_ = std::prev(dropped)->modseq;
  expunged_.erase(expunged_.begin(), dropped);
}

std::vector<MessageInfo> FolderMirror::snapshot(const Read& read) {
  catch_up(read);
  std::lock_guard lock(mutex_);
  return messages_;
}

std::optional<FolderStatus> FolderMirror::status(const Read& read) {
  {
    std::lock_guard lock(mutex_);
    if (!loaded_) return std::nullopt;
  }
  catch_up(read);
  std::lock_guard lock(mutex_);
  FolderStatus s;
  s.messages = static_cast<std::uint32_t>(messages_.size());
  s.unseen = unseen_;
  s.deleted = deleted_;
  s.size = size_;
  const auto first_recent = std::lower_bound(messages_.begin(), messages_.end(), first_recent_,
                                             [](const MessageInfo& m, std::uint32_t uid) { return m.uid < uid; });
  s.recent = static_cast<std::uint32_t>(std::distance(first_recent, messages_.end()));
  s.uid_next = uid_next_;
  s.uid_validity = uid_validity_;
  s.highest_modseq = modseq_;
  return s;
}

std::optional<FolderChanges> FolderMirror::changes_since(std::uint64_t modseq, const Read& read) {
  catch_up(read);
  std::lock_guard lock(mutex_);
  return changes_after(modseq);
}

std::optional<FolderChanges> FolderMirror::changes_heard_since(std::uint64_t modseq, const Read& read) {
  {
    std::lock_guard lock(mutex_);
    if (current_as_heard() && modseq <= modseq_) return changes_after(modseq);
  }
  return changes_since(modseq, read);
}

bool FolderMirror::current_as_heard() const { return loaded_ && heard_.load() == heard_when_read_; }

std::optional<std::vector<MessageInfo>> FolderMirror::heard_states(std::span<const std::uint32_t> uids) const {
  std::lock_guard lock(mutex_);
  if (!current_as_heard()) return std::nullopt;
  std::vector<MessageInfo> out;
  auto from = messages_.begin();
  for (const std::uint32_t uid : uids) {
    from = std::lower_bound(from, messages_.end(), uid,
                            [](const MessageInfo& m, std::uint32_t u) { return m.uid < u; });
    if (from != messages_.end() && from->uid == uid) out.push_back(*from);
  }
  return out;
}

std::optional<FolderChanges> FolderMirror::changes_after(std::uint64_t modseq) const {
  if (modseq < expunges_from_) return std::nullopt;
  FolderChanges changes;
  changes.highest_modseq = modseq_;
  std::vector<std::uint32_t> uids;
  for (auto it = by_modseq_.upper_bound({modseq, UINT32_MAX}); it != by_modseq_.end(); ++it) uids.push_back(it->second);
  std::sort(uids.begin(), uids.end());
  auto from = messages_.begin();
  for (const std::uint32_t uid : uids) {
    from = std::lower_bound(from, messages_.end(), uid, [](const MessageInfo& m, std::uint32_t u) { return m.uid < u; });
    changes.changed.push_back(*from);  // by_modseq_ indexes messages_
  }
  const auto after = std::upper_bound(expunged_.begin(), expunged_.end(), modseq,
                                      [](std::uint64_t s, const FolderDelta::Expunged& e) { return s < e.modseq; });
  for (auto it = after; it != expunged_.end(); ++it) changes.expunged.push_back(it->uid);
  std::sort(changes.expunged.begin(), changes.expunged.end());
  return changes;
}

}  // namespace umstore::mailstore::pg
