// SEARCH and UID SEARCH, with ESEARCH return options (RFC 4731):
// SEARCH RETURN (MIN MAX COUNT ALL) ... answers with one ESEARCH line.
#include <algorithm>
#include <ctime>

#include "fetch_cache.hpp"
#include "search_query.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

// What the folder's full-text index narrows each BODY and TEXT string to.
void collect_text_candidates(const SearchKey& key, const mailstore::Folder& folder,
                             std::span<const std::uint32_t> uids, TextCandidates& out) {
  if (key.op == SearchKey::Op::Body || key.op == SearchKey::Op::Text)
    if (auto candidates = folder.text_candidates(key.value, uids)) out.emplace(&key, std::move(*candidates));
  for (const SearchKey& child : key.children) collect_text_candidates(child, folder, uids, out);
}

// A search is an AND of its keys: only the candidates of one of its BODY
// or TEXT keys can match it (the fewest, when there are several).
const std::vector<std::uint32_t>* narrowest_candidates(const SearchKey& key, const TextCandidates& candidates) {
  const std::vector<std::uint32_t>* narrowest = nullptr;
  if (key.op != SearchKey::Op::And) return nullptr;
  for (const SearchKey& child : key.children)
    if (const auto it = candidates.find(&child); it != candidates.end())
      if (!narrowest || it->second.possible.size() < narrowest->size()) narrowest = &it->second.possible;
  return narrowest;
}

}  // namespace

bool Session::message_matches(const SearchKey& key, std::size_t index, const TextCandidates* candidates) {
  const auto& sel = *selected_;
  const auto& info = sel.messages[index];
  SearchSubject subject;
  subject.seq = static_cast<std::uint32_t>(index + 1);
  subject.max_seq = static_cast<std::uint32_t>(sel.messages.size());
  subject.max_uid = sel.messages.back().uid;
  subject.now = std::time(nullptr);
  subject.info = &info;
  subject.recent = sel.recent.count(info.uid) > 0;
  subject.saved = sel.saved;
  subject.text_candidates = candidates;
  subject.load = [folder = sel.folder, u = info.uid] { return folder->open_message(u); };
  subject.load_header = [&, u = info.uid] {
    return header_block(ctx_.fetch_cache, *sel.folder, ctx_.fetch_cache ? sel.folder->uid_validity() : 0, u);
  };
  return matches(key, subject);
}

std::vector<std::size_t> Session::matching_indexes(const SearchKey& key) {
  const auto& sel = *selected_;
  std::vector<std::size_t> found;
  TextCandidates text_candidates;
  if (!sel.messages.empty()) {
    std::vector<std::uint32_t> uids;
    uids.reserve(sel.messages.size());
    for (const auto& info : sel.messages) uids.push_back(info.uid);
    collect_text_candidates(key, *sel.folder, uids, text_candidates);
  }
  const auto evaluate = [&](std::size_t i) {
    if (message_matches(key, i, &text_candidates)) found.push_back(i);
  };
  if (const auto* only = narrowest_candidates(key, text_candidates)) {
    const auto by_uid = [](const mailstore::MessageInfo& m, std::uint32_t uid) { return m.uid < uid; };
    for (const std::uint32_t uid : *only) {
      const auto it = std::lower_bound(sel.messages.begin(), sel.messages.end(), uid, by_uid);
      if (it != sel.messages.end() && it->uid == uid) evaluate(static_cast<std::size_t>(it - sel.messages.begin()));
    }
  } else {
    for (std::size_t i = 0; i < sel.messages.size(); ++i) evaluate(i);
  }
  return found;
}

void Session::send_search_result(const Command& cmd, std::string_view name, const SearchReturn& ret,
                                 const std::vector<std::size_t>& indexes, bool with_modseq) {
  if (with_modseq) enable_condstore();
  const bool uid = is_uid_command(cmd);
  const auto& sel = *selected_;
  std::vector<std::uint32_t> found;
  std::vector<std::uint64_t> modseqs;  // of the messages found, in the same order
  for (const std::size_t i : indexes) {
    found.push_back(uid ? sel.messages[i].uid : static_cast<std::uint32_t>(i + 1));
    modseqs.push_back(sel.messages[i].modseq);
  }
  const auto modseq = with_modseq ? std::optional(reported_modseq(ret, modseqs)) : std::nullopt;
  if (ret.save) save_result(ret, indexes);
  if (ret.extended) {
    // RFC 5182 §2.1: SAVE alone asks for no ESEARCH response.
    if (ret.answers()) untagged(esearch_line(cmd.tag, uid, ret, found, modseq));
  } else {
    std::string result(name);
    for (const std::uint32_t n : found) result += " " + std::to_string(n);
    if (modseq && !found.empty()) result += " (MODSEQ " + std::to_string(*modseq) + ")";
    untagged(result);
  }
  reply(cmd, "OK", cmd.name + " completed");
}

void Session::save_result(const SearchReturn& ret, const std::vector<std::size_t>& indexes) {
  auto& sel = *selected_;
  sel.saved.clear();
  // RFC 5182 §2.1, RFC 9394 §3.2: with MIN, MAX or PARTIAL but neither
  // ALL nor COUNT, only the messages those return are kept.
  const bool only_returned = (ret.min || ret.max || ret.partial) && !ret.all && !ret.count;
  const auto [begin, end] = ret.partial ? ret.partial->slice(indexes.size()) : std::pair<std::size_t, std::size_t>{};
  for (std::size_t n = 0; n < indexes.size(); ++n)
    if (!only_returned || (ret.min && n == 0) || (ret.max && n + 1 == indexes.size()) || (n >= begin && n < end))
      sel.saved.push_back(sel.messages[indexes[n]].uid);
  std::sort(sel.saved.begin(), sel.saved.end());  // SORT gives them in its own order
}

// The search key, or nullopt after the tagged reply saying what is wrong.
std::optional<SearchKey> Session::search_key_or_reply(const Command& cmd, std::span<const Arg> args) {
  auto parsed = parse_search(args);
  if (auto* key = std::get_if<SearchKey>(&parsed)) return std::move(*key);
  const auto& error = std::get<SearchError>(parsed);
  if (error.unsupported_charset) reply(cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
  else reply(cmd, "BAD", "Invalid search: " + error.text);
  return std::nullopt;
}

std::optional<SearchReturnPrefix> Session::search_return_or_reply(const Command& cmd, std::string_view what) {
  auto prefix = parse_search_return(cmd.args);
  if (auto* options = std::get_if<SearchReturnPrefix>(&prefix)) return *options;
  reply(cmd, "BAD", "Invalid " + std::string(what) + ": " + std::get<SearchError>(prefix).text);
  return std::nullopt;
}

net::Task<void> Session::cmd_search(const Command& cmd) {
  const auto prefix = search_return_or_reply(cmd, "search");
  if (!prefix) co_return;
  auto [ret, args] = *prefix;
  const auto& live = selected_->live_searches;
  if (ret.update && std::any_of(live.begin(), live.end(), [&](const LiveSearch& s) { return s.tag == cmd.tag; })) {
    reply(cmd, "BAD", "A search with tag " + cmd.tag + " is kept up to date already: CANCELUPDATE it first");
    co_return;
  }
  const auto key = search_key_or_reply(cmd, args);
  if (!key) {
    if (ret.save) selected_->saved.clear();  // RFC 5182 §2.1: a failed SAVE empties "$"
    co_return;
  }
  // RFC 9051 §6.4.4: an IMAP4rev2 client hears ESEARCH, as if it had asked RETURN (ALL).
  if (rev2_ && !ret.extended) ret.extended = ret.all = true;
  const auto indexes = matching_indexes(*key);
  const bool with_modseq = uses_modseq(*key);
  if (ret.update) keep_live_search(cmd, std::move(*key), indexes);
  send_search_result(cmd, "SEARCH", ret, indexes, with_modseq);
}

}  // namespace umstore::imap
