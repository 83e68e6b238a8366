// CONTEXT=SEARCH (RFC 5267 §4): SEARCH RETURN (UPDATE) keeps the result
// current for as long as the folder stays selected, or until CANCELUPDATE:
// each change to the messages it covers comes as an untagged
// "ESEARCH (TAG "t") [UID] REMOVEFROM (0 set) ADDTO (0 set)" (position 0:
// the result is not sorted), whoever made the change.
#include <algorithm>

#include "sequence_set.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

// One client cannot make every change cost more than this many searches.
constexpr std::size_t kMaxLiveSearches = 16;

std::string update_line(const LiveSearch& search, std::span<const std::uint32_t> removed,
                        std::span<const std::uint32_t> added) {
  std::string line = "ESEARCH (TAG \"" + search.tag + "\")" + (search.uid ? " UID" : "");
  if (!removed.empty()) line += " REMOVEFROM (0 " + format_uid_set(removed) + ")";
  if (!added.empty()) line += " ADDTO (0 " + format_uid_set(added) + ")";
  return line;
}

}  // namespace

void Session::keep_live_search(const Command& cmd, SearchKey key, const std::vector<std::size_t>& indexes) {
  auto& sel = *selected_;
  if (sel.live_searches.size() >= kMaxLiveSearches) {
    untagged("NO [NOUPDATE \"" + cmd.tag + "\"] At most " + std::to_string(kMaxLiveSearches) +
             " searches are kept up to date at once");
    return;
  }
  LiveSearch search{cmd.tag, std::move(key), is_uid_command(cmd), {}};
  for (const std::size_t i : indexes) search.uids.insert(sel.messages[i].uid);
  sel.live_searches.push_back(std::move(search));
}

void Session::report_live_removals(const std::set<std::uint32_t>& expunged) {
  auto& sel = *selected_;
  for (const std::uint32_t uid : expunged) sel.live_touched.erase(uid);
  for (auto& search : sel.live_searches) {
    std::vector<std::uint32_t> removed;
    for (std::size_t i = 0; i < sel.messages.size(); ++i) {
      const std::uint32_t uid = sel.messages[i].uid;
      if (!expunged.contains(uid) || !search.uids.erase(uid)) continue;
      removed.push_back(search.uid ? uid : static_cast<std::uint32_t>(i + 1));
    }
    if (!removed.empty()) untagged(update_line(search, removed, {}));
  }
}

void Session::report_live_changes() {
  auto& sel = *selected_;
  if (sel.live_searches.empty()) sel.live_touched.clear();  // all cancelled meanwhile
  if (sel.live_touched.empty()) return;
  std::vector<std::size_t> touched;  // indexes, ascending
  for (std::size_t i = 0; i < sel.messages.size(); ++i)
    if (sel.live_touched.contains(sel.messages[i].uid)) touched.push_back(i);
  sel.live_touched.clear();
  for (auto& search : sel.live_searches) {
    std::vector<std::uint32_t> removed, added;
    for (const std::size_t i : touched) {
      const std::uint32_t uid = sel.messages[i].uid;
      const std::uint32_t reported = search.uid ? uid : static_cast<std::uint32_t>(i + 1);
      const bool was = search.uids.contains(uid);
      if (message_matches(search.key, i, nullptr) == was) continue;
      if (was) {
        search.uids.erase(uid);
        removed.push_back(reported);
      } else {
        search.uids.insert(uid);
        added.push_back(reported);
      }
    }
    if (!removed.empty() || !added.empty()) untagged(update_line(search, removed, added));
  }
}

net::Task<void> Session::cmd_cancelupdate(const Command& cmd) {
  auto& live = selected_->live_searches;
  if (cmd.args.empty()) {
    reply(cmd, "BAD", "CANCELUPDATE takes the tags of the searches to stop updating");
    co_return;
  }
  for (const Arg& arg : cmd.args) {
    const auto found = std::find_if(live.begin(), live.end(), [&](const LiveSearch& s) { return s.tag == arg.text; });
    if (arg.kind == Arg::Kind::List || found == live.end()) {
      reply(cmd, "BAD", "No search with tag " + std::string(arg.text) + " is kept up to date");
      co_return;
    }
  }
  for (const Arg& arg : cmd.args)
    std::erase_if(live, [&](const LiveSearch& s) { return s.tag == arg.text; });
  reply(cmd, "OK", "CANCELUPDATE completed");
}

}  // namespace umstore::imap
