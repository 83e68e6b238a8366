// SORT and UID SORT (RFC 5256) with ESORT result options (RFC 5267). The
// sort keys come from the message metadata (ARRIVAL, SIZE) and from the
// header blocks the fetch cache keeps (DATE, SUBJECT, FROM, TO, CC), so a
// sort reads a message file only for a header not yet cached.
#include <algorithm>

#include "common/ascii.hpp"
#include "fetch_cache.hpp"
#include "sort_keys.hpp"
#include "mime/imap_structure.hpp"
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
  std::int64_t arrival = 0, date = 0;
  std::uint64_t size = 0;
  std::string subject, from, to, cc;
};

std::string first_mailbox(const mime::Part& header, std::string_view field) {
  const auto value = mime::header_value(header, field);
  if (!value) return {};
  for (const mime::Address& a : mime::parse_address_list(*value))
    if (!a.group_start && !a.group_end) return ascii_lower(a.mailbox);
  return {};
}

bool uses(const std::vector<SortCriterion>& criteria, SortKey key) {
  return std::any_of(criteria.begin(), criteria.end(), [key](const SortCriterion& c) { return c.key == key; });
}

int compare(const SortValues& a, const SortValues& b, SortKey key) {
  const auto three_way = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (key) {
    case SortKey::Arrival: return three_way(a.arrival, b.arrival);
    case SortKey::Date: return three_way(a.date, b.date);
    case SortKey::Size: return three_way(a.size, b.size);
    case SortKey::Subject: return three_way(a.subject, b.subject);
    case SortKey::From: return three_way(a.from, b.from);
    case SortKey::To: return three_way(a.to, b.to);
    case SortKey::Cc: return three_way(a.cc, b.cc);
  }
  return 0;
}

}  // namespace

net::Task<void> Session::cmd_sort(const Command& cmd) {
  const auto prefix = search_return_or_reply(cmd, "sort");
  if (!prefix) co_return;
  const auto& [ret, args] = *prefix;
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
  // Only the keys asked for are worked out: a SORT (DATE) of a large mailbox
  // parses no address lists.
  const bool date = uses(*criteria, SortKey::Date), subject = uses(*criteria, SortKey::Subject),
             from = uses(*criteria, SortKey::From), to = uses(*criteria, SortKey::To), cc = uses(*criteria, SortKey::Cc);
  const bool header = date || subject || from || to || cc;
  const std::uint32_t uid_validity = ctx_.fetch_cache ? sel.folder->uid_validity() : 0;
  std::vector<SortValues> values;
  for (const std::size_t i : matching_indexes(*key)) {
    const auto& info = sel.messages[i];
    SortValues v;
    v.index = i;
    v.arrival = v.date = info.internal_date;
    v.size = info.size;
    if (header) {
      const std::string block = header_block(ctx_.fetch_cache, *sel.folder, uid_validity, info.uid);
      const auto root = mime::parse_message(block);
      if (date) v.date = sent_date(root, info);
      if (subject) v.subject = base_subject(mime::header_value(root, "Subject").value_or("")).text;
      if (from) v.from = first_mailbox(root, "From");
      if (to) v.to = first_mailbox(root, "To");
      if (cc) v.cc = first_mailbox(root, "Cc");
    }
    values.push_back(std::move(v));
  }
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
