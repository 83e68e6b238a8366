// QRESYNC (RFC 7162 §3.2): what a client that was away missed, in one
// round trip. Built on the store's incremental read (Folder::changes_since);
// where the store no longer knows expunges that old, the UIDs the client
// asks about that the folder lacks are reported instead, narrowed by the
// sequence-match data the client sent (§3.2.5.2, §5.1).
#include <algorithm>

#include "sequence_set.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

using Range = std::pair<std::uint32_t, std::uint32_t>;

// Hands out the numbers of ascending ranges one by one.
class RangeWalk {
 public:
  explicit RangeWalk(std::vector<Range> ranges) : ranges_(std::move(ranges)) {}
  std::optional<std::uint32_t> next() {
    if (index_ == ranges_.size()) return std::nullopt;
    const auto [first, last] = ranges_[index_];
    const std::uint32_t n = first + offset_;
    if (n == last) {
      ++index_;
      offset_ = 0;
    } else {
      ++offset_;
    }
    return n;
  }

 private:
  std::vector<Range> ranges_;
  std::size_t index_ = 0;
  std::uint32_t offset_ = 0;  // into ranges_[index_]
};

bool holds(std::span<const mailstore::MessageInfo> messages, std::uint32_t uid) {
  const auto it = std::lower_bound(messages.begin(), messages.end(), uid,
                                   [](const mailstore::MessageInfo& m, std::uint32_t u) { return m.uid < u; });
  return it != messages.end() && it->uid == uid;
}

// The UIDs of `wanted` (ascending ranges) that `messages` lacks.
std::vector<Range> missing(std::span<const Range> wanted, std::span<const mailstore::MessageInfo> messages) {
  std::vector<Range> gone;
  auto it = messages.begin();
  for (const auto& [first, last] : wanted) {
    it = std::lower_bound(it, messages.end(), first,
                          [](const mailstore::MessageInfo& m, std::uint32_t u) { return m.uid < u; });
    std::uint64_t from = first;
    for (; it != messages.end() && it->uid <= last; ++it) {
      if (it->uid > from) gone.emplace_back(static_cast<std::uint32_t>(from), it->uid - 1);
      from = static_cast<std::uint64_t>(it->uid) + 1;
    }
    if (from <= last) gone.emplace_back(static_cast<std::uint32_t>(from), last);
  }
  return gone;
}

// §3.2.5.2: each (message number, UID) pair the client sends that still
// holds shows it knows every expunge up to that UID; the first that does
// not ends the agreement. Returns the lowest UID worth reporting.
std::uint32_t agreed_floor(const std::pair<SequenceSet, SequenceSet>& match,
                           std::span<const mailstore::MessageInfo> messages, std::uint32_t last_uid) {
  RangeWalk numbers(match.first.ranges(static_cast<std::uint32_t>(messages.size())));
  RangeWalk uids(match.second.ranges(last_uid));
  std::uint32_t floor = 1;
  for (;;) {
    const auto n = numbers.next();
    const auto uid = uids.next();
    if (!n || !uid || *n > messages.size() || messages[*n - 1].uid != *uid) return floor;
    floor = *uid + 1;
  }
}

}  // namespace

void Session::send_vanished_earlier(const SequenceSet& uids, std::uint64_t modseq, std::uint32_t floor) {
  const auto& sel = *selected_;
  // "*" and the default "all UIDs" reach UIDNEXT - 1 (§3.2.5.1), past the
  // last message the folder still has.
  const std::uint32_t last_uid = sel.uid_bound() - 1;
  std::vector<Range> wanted;
  for (auto [first, last] : uids.ranges(last_uid)) {
    first = std::max(first, floor);
    last = std::min(last, last_uid);
    if (first <= last) wanted.emplace_back(first, last);
  }
  if (wanted.empty()) return;
  const auto changes = sel.folder->changes_since(modseq);
  std::string gone;
  if (changes.expunged_complete) {
    // Expunges the session has not reported yet stay out: the client
    // still has those messages' numbers, and hears VANISHED for them later.
    std::vector<std::uint32_t> vanished;
    auto range = wanted.begin();
    for (std::uint32_t uid : changes.expunged) {
      while (range != wanted.end() && range->second < uid) ++range;
      if (range == wanted.end()) break;
      if (uid >= range->first && !holds(sel.messages, uid)) vanished.push_back(uid);
    }
    gone = format_uid_set(vanished);
  } else {
    gone = format_uid_set(missing(wanted, sel.messages));
  }
  if (!gone.empty()) untagged("VANISHED (EARLIER) " + gone);
}

void Session::resync_selected(const QresyncParameters& q) {
  const auto& sel = *selected_;
  if (q.uid_validity != sel.folder->uid_validity()) return;  // §3.2.5: as if nothing changed
  const std::uint32_t last_uid = sel.uid_bound() - 1;
  const SequenceSet known = q.known_uids ? *q.known_uids : *SequenceSet::parse("1:*");
  const std::uint32_t floor = q.seq_match ? agreed_floor(*q.seq_match, sel.messages, last_uid) : 1;
  send_vanished_earlier(known, q.modseq, floor);
  for (std::size_t i = 0; i < sel.messages.size(); ++i)
    if (sel.messages[i].modseq > q.modseq && known.contains(sel.messages[i].uid, last_uid))
      untagged(fetch_flags_line(i, true));
}

}  // namespace umstore::imap
