// SORT and UID SORT (RFC 5256) with ESORT result options (RFC 5267). The
// sort keys come from the message listing (ARRIVAL, SIZE) and from the keys
// the sort key cache works out once per message from its header block
// (DATE, SUBJECT, FROM, TO, CC; sort_key_cache.hpp).
#include <algorithm>

#include "search_query.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

enum class SortKey { Arrival, Cc, Date, From, Size, Subject, To };

struct SortCriterion {
  SortKey key;
  bool reverse = false;
};

std::optional<std::vector<SortCriterion>> parse_sort_criteria(const Arg& list) {
  static constexpr std::pair<std::string_view, SortKey> kKeys[] = {
      {"ARRIVAL", SortKey::Arrival}, {"CC", SortKey::Cc},     {"DATE", SortKey::Date}, {"FROM", SortKey::From},
      {"SIZE", SortKey::Size},       {"SUBJECT", SortKey::Subject}, {"TO", SortKey::To}};
  if (!list.is_list() || list.list.empty()) return std::nullopt;
  std::vector<SortCriterion> out;
  bool reverse = false;
  for (const Arg& a : list.list) {
    if (a.is_atom("REVERSE")) {
      if (reverse) return std::nullopt;
      reverse = true;
      continue;
    }
    const auto* found =
        std::find_if(std::begin(kKeys), std::end(kKeys), [&](const auto& k) { return a.is_atom(k.first); });
    if (found == std::end(kKeys)) return std::nullopt;
    out.push_back({found->second, reverse});
    reverse = false;
  }
  if (reverse) return std::nullopt;  // REVERSE must precede a key
  return out;
}

struct SortValues {
  std::size_t index = 0;  // sequence number - 1: the final tie-break
  std::int64_t arrival = 0;
  std::uint64_t size = 0;
  const MessageSortKeys* keys = nullptr;  // when a header key is asked for
};

int compare(const SortValues& a, const SortValues& b, SortKey key) {
  const auto three_way = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (key) {
    case SortKey::Arrival: return three_way(a.arrival, b.arrival);
    case SortKey::Date: return three_way(a.keys->sent, b.keys->sent);
    case SortKey::Size: return three_way(a.size, b.size);
    case SortKey::Subject: return a.keys->subject.compare(b.keys->subject);
    case SortKey::From: return a.keys->from.compare(b.keys->from);
    case SortKey::To: return a.keys->to.compare(b.keys->to);
    case SortKey::Cc: return a.keys->cc.compare(b.keys->cc);
  }
  return 0;
}

}  // namespace

net::Task<void> Session::cmd_sort(const Command& cmd) {
  const auto prefix = search_return_or_reply(cmd, "sort");
  if (!prefix) co_return;
  const auto& [ret, args] = *prefix;
  if (ret.update) {
    reply(cmd, "BAD", "RETURN (UPDATE) is for SEARCH only (CONTEXT=SORT is not offered)");
    co_return;
  }
  const auto criteria = !args.empty() ? parse_sort_criteria(args[0]) : std::nullopt;
  // SORT (criteria) charset search-key...: the charset is not optional here
  if (!criteria || args.size() < 3 || !args[1].is_astring()) {
    reply(cmd, "BAD", "SORT needs (sort criteria), a charset and search keys");
    co_return;
  }
  std::vector<Arg> with_charset{Arg{Arg::Kind::Atom, "CHARSET", {}}};
  with_charset.insert(with_charset.end(), args.begin() + 1, args.end());
  const auto key = search_key_or_reply(cmd, with_charset);
  if (!key) co_return;
  const auto& sel = *selected_;
  const bool header = std::any_of(criteria->begin(), criteria->end(), [](const SortCriterion& c) {
    return c.key != SortKey::Arrival && c.key != SortKey::Size;
  });
  const auto matching = matching_indexes(*key);
  std::vector<const mailstore::MessageInfo*> infos;
  for (const std::size_t i : matching) infos.push_back(&sel.messages[i]);
  const std::uint32_t uid_validity = ctx_.fetch_cache || ctx_.sort_keys ? sel.folder->uid_validity() : 0;
  const SortKeyList keys = header ? sort_keys(ctx_.sort_keys, ctx_.fetch_cache, *sel.folder, uid_validity, infos,
                                              sel.messages.size())
                                  : SortKeyList{};
  std::vector<SortValues> values;
  values.reserve(matching.size());
  for (std::size_t n = 0; n < matching.size(); ++n)
    values.push_back({matching[n], infos[n]->internal_date, infos[n]->size, header ? keys.keys[n] : nullptr});
  std::sort(values.begin(), values.end(), [&](const SortValues& a, const SortValues& b) {
    for (const auto& c : *criteria) {
      const int order = compare(a, b, c.key);
      if (order != 0) return c.reverse ? order > 0 : order < 0;
    }
    return a.index < b.index;
  });
  std::vector<std::size_t> sorted;
  for (const auto& v : values) sorted.push_back(v.index);
  send_search_result(cmd, "SORT", ret, sorted, uses_modseq(*key));
}

}  // namespace umstore::imap
