// SEARCH and UID SEARCH, with ESEARCH return options (RFC 4731):
// SEARCH RETURN (MIN MAX COUNT ALL) ... answers with one ESEARCH line.
#include <algorithm>

#include "fetch_cache.hpp"
#include "search_query.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

// A message's top-level header block for header keys (FROM, SUBJECT, ...):
// from the fetch cache that FETCH fills too, so a search need not read the
// message files again; empty when the message is gone.
std::string header_block(FetchCache* cache, mailstore::Folder& folder, std::uint32_t uid_validity,
                         std::uint32_t uid) {
  if (cache) {
    if (const auto hit = cache->find(folder, uid_validity, uid)) return hit->header;
  }
  const auto data = folder.open_message(uid);
  if (!data) return {};
  const std::string_view bytes = data->bytes();
  const std::string_view header = top_header_of(bytes);
  if (cache && header.size() < bytes.size()) {
    auto entry = std::make_shared<CachedMessage>();
    entry->header = std::string(header);
    cache->store(folder, uid_validity, uid, std::move(entry));
  }
  return std::string(header);
}

struct SearchReturn {
  bool extended = false;  // RETURN given: answer with ESEARCH
  bool min = false, max = false, count = false, all = false;
};

// Consumes "RETURN (options)" at the front of `args`; false when malformed.
bool parse_return(std::span<const Arg>& args, SearchReturn& ret, std::string& error) {
  if (args.empty() || !args[0].is_atom("RETURN")) return true;
  if (args.size() < 2 || !args[1].is_list()) {
    error = "RETURN needs a list of options";
    return false;
  }
  ret.extended = true;
  for (const Arg& option : args[1].list) {
    if (option.is_atom("MIN")) ret.min = true;
    else if (option.is_atom("MAX")) ret.max = true;
    else if (option.is_atom("COUNT")) ret.count = true;
    else if (option.is_atom("ALL")) ret.all = true;
    else {
      error = "unsupported RETURN option";
      return false;
    }
  }
  if (!ret.min && !ret.max && !ret.count && !ret.all) ret.all = true;  // "RETURN ()" means ALL
  args = args.subspan(2);
  return true;
}

// Ascending numbers as a compact sequence set: "1:3,7,9:10".
std::string compact_set(const std::vector<std::uint32_t>& numbers) {
  std::string out;
  for (std::size_t i = 0; i < numbers.size();) {
    std::size_t j = i;
    while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(numbers[i]);
    if (j > i) out += ':' + std::to_string(numbers[j]);
    i = j + 1;
  }
  return out;
}

std::string esearch_line(const Command& cmd, bool uid, const SearchReturn& ret,
                         const std::vector<std::uint32_t>& found, std::optional<std::uint64_t> highest_modseq) {
  std::string line = "ESEARCH (TAG \"" + cmd.tag + "\")";
  if (uid) line += " UID";
  if (ret.min && !found.empty()) line += " MIN " + std::to_string(found.front());
  if (ret.max && !found.empty()) line += " MAX " + std::to_string(found.back());
  if (ret.count) line += " COUNT " + std::to_string(found.size());
  if (ret.all && !found.empty()) line += " ALL " + compact_set(found);
  if (highest_modseq && !found.empty()) line += " MODSEQ " + std::to_string(*highest_modseq);
  return line;
}

}  // namespace

net::Task<void> Session::cmd_search(const Command& cmd) {
  const bool uid = is_uid_command(cmd);
  std::string error;
  bool bad_charset = false;
  std::span<const Arg> args(cmd.args);
  SearchReturn ret;
  if (!parse_return(args, ret, error)) {
    reply(cmd, "BAD", "Invalid search: " + error);
    co_return;
  }
  auto key = parse_search(args, error, bad_charset);
  if (!key) {
    if (bad_charset)
      reply(cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
    else
      reply(cmd, "BAD", "Invalid search: " + error);
    co_return;
  }
  const bool with_modseq = uses_modseq(*key);
  if (with_modseq) enable_condstore();
  const auto& sel = *selected_;
  std::vector<std::uint32_t> found;
  std::uint64_t highest_modseq = 0;  // of the messages found
  const auto max_seq = static_cast<std::uint32_t>(sel.messages.size());
  const std::uint32_t max_uid = sel.messages.empty() ? 0 : sel.messages.back().uid;
  const std::uint32_t uid_validity = ctx_.fetch_cache ? sel.folder->uid_validity() : 0;
  for (std::size_t i = 0; i < sel.messages.size(); ++i) {
    const auto& info = sel.messages[i];
    SearchSubject subject;
    subject.seq = static_cast<std::uint32_t>(i + 1);
    subject.max_seq = max_seq;
    subject.max_uid = max_uid;
    subject.info = &info;
    subject.recent = sel.recent.count(info.uid) > 0;
    subject.load = [folder = sel.folder, u = info.uid] { return folder->open_message(u); };
    subject.load_header = [&, u = info.uid] { return header_block(ctx_.fetch_cache, *sel.folder, uid_validity, u); };
    if (matches(*key, subject)) {
      found.push_back(uid ? info.uid : subject.seq);
      highest_modseq = std::max(highest_modseq, info.modseq);
    }
  }
  const auto reported_modseq = with_modseq ? std::optional(highest_modseq) : std::nullopt;
  if (ret.extended) {
    untagged(esearch_line(cmd, uid, ret, found, reported_modseq));
  } else {
    std::string result = "SEARCH";
    for (const std::uint32_t n : found) result += " " + std::to_string(n);
    if (reported_modseq && !found.empty()) result += " (MODSEQ " + std::to_string(*reported_modseq) + ")";
    untagged(result);
  }
  reply(cmd, "OK", cmd.name + " completed");
}

}  // namespace umstore::imap
