// SEARCH and UID SEARCH.
#include "search_query.hpp"
#include "session.hpp"

namespace umstore::imap {

net::Task<void> Session::cmd_search(const Command& cmd) {
  bool uid = is_uid_command(cmd);
  std::string error;
  bool bad_charset = false;
  auto key = parse_search(cmd.args, error, bad_charset);
  if (!key) {
    if (bad_charset)
      reply(cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
    else
      reply(cmd, "BAD", "Invalid search: " + error);
    co_return;
  }
  const auto& sel = *selected_;
  std::string result = "SEARCH";
  const auto max_seq = static_cast<std::uint32_t>(sel.messages.size());
  const std::uint32_t max_uid = sel.messages.empty() ? 0 : sel.messages.back().uid;
  for (std::size_t i = 0; i < sel.messages.size(); ++i) {
    const auto& info = sel.messages[i];
    SearchSubject subject;
    subject.seq = static_cast<std::uint32_t>(i + 1);
    subject.max_seq = max_seq;
    subject.max_uid = max_uid;
    subject.info = &info;
    subject.recent = sel.recent.count(info.uid) > 0;
    subject.load = [folder = sel.folder, u = info.uid] { return folder->open_message(u); };
    if (matches(*key, subject)) result += " " + std::to_string(uid ? info.uid : subject.seq);
  }
  untagged(result);
  reply(cmd, "OK", cmd.name + " completed");
}

}  // namespace umstore::imap
