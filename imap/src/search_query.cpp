#include "search_query.hpp"
#include "common/ascii.hpp"

#include <algorithm>
#include <cctype>

#include "mailstore/message_text.hpp"
#include "mime/imap_structure.hpp"
#include "object_id.hpp"
#include "response_writer.hpp"

namespace umstore::imap {
namespace {

constexpr std::size_t kMaxKeys = 1000;
constexpr std::size_t kMaxDepth = 32;

std::optional<std::int64_t> parse_number(std::string_view text) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return std::nullopt;
  return std::stoll(std::string(text));
}

class SearchParser {
 public:
  explicit SearchParser(std::span<const Arg> args) : args_(args) {}

  // Why parse_all() found no key.
  const std::string& error() const { return error_; }

  std::optional<SearchKey> parse_all() {
    SearchKey all;
    all.op = SearchKey::Op::And;
    while (pos_ < args_.size()) {
      auto k = parse_key(0);
      if (!k) return std::nullopt;
      all.children.push_back(std::move(*k));
    }
    if (all.children.empty()) return fail("missing search key");
    return all;
  }

 private:
  std::optional<SearchKey> fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
    return std::nullopt;
  }

  const Arg* next_value() {
    if (pos_ >= args_.size() || !args_[pos_].is_astring()) return nullptr;
    return &args_[pos_++];
  }

  // A key whose argument is one string (`field`: the header it searches).
  std::optional<SearchKey> with_string(SearchKey::Op op, std::string field, std::string_view missing) {
    const Arg* v = next_value();
    if (!v) return fail(std::string(missing));
    SearchKey k;
    k.op = op;
    k.field = std::move(field);
    k.value = std::string(v->text);
    return k;
  }

  std::optional<SearchKey> parse_key(std::size_t depth) {
    if (depth > kMaxDepth || ++count_ > kMaxKeys) return fail("search too complex");
    if (pos_ >= args_.size()) return fail("missing search key");
    const Arg& a = args_[pos_++];
    SearchKey k;
    if (a.is_list()) {
      SearchParser inner(a.list);
      inner.count_ = count_;
      auto r = inner.parse_all_nested(depth + 1);
      count_ = inner.count_;
      if (!r) return fail(inner.error_);
      return r;
    }
    if (a.kind != Arg::Kind::Atom) return fail("invalid search key");
    if (a.text == "$") {
      k.op = SearchKey::Op::SavedResult;
      return k;
    }
    if (auto set = SequenceSet::parse(a.text)) {
      k.op = SearchKey::Op::SequenceNumbers;
      k.set = std::move(set);
      return k;
    }
    std::string name = ascii_upper(a.text);
    using Op = SearchKey::Op;
    struct FlagKey {
      std::string_view name;
      Op op;
      mailstore::Flags flag;
    };
    static constexpr FlagKey kFlagKeys[] = {
        {"SEEN", Op::FlagSet, mailstore::kSeen},         {"UNSEEN", Op::FlagClear, mailstore::kSeen},
        {"ANSWERED", Op::FlagSet, mailstore::kAnswered}, {"UNANSWERED", Op::FlagClear, mailstore::kAnswered},
        {"FLAGGED", Op::FlagSet, mailstore::kFlagged},   {"UNFLAGGED", Op::FlagClear, mailstore::kFlagged},
        {"DELETED", Op::FlagSet, mailstore::kDeleted},   {"UNDELETED", Op::FlagClear, mailstore::kDeleted},
        {"DRAFT", Op::FlagSet, mailstore::kDraft},       {"UNDRAFT", Op::FlagClear, mailstore::kDraft},
    };
    for (const auto& f : kFlagKeys)
      if (name == f.name) {
        k.op = f.op;
        k.flag = f.flag;
        return k;
      }
    if (name == "ALL") return k;
    if (name == "NEW") { k.op = Op::New; return k; }
    if (name == "OLD") { k.op = Op::Old; return k; }
    if (name == "RECENT") { k.op = Op::Recent; return k; }
    if (name == "NOT") {
      auto c = parse_key(depth + 1);
      if (!c) return std::nullopt;
      k.op = Op::Not;
      k.children.push_back(std::move(*c));
      return k;
    }
    if (name == "OR") {
      auto c1 = parse_key(depth + 1);
      if (!c1) return std::nullopt;
      auto c2 = parse_key(depth + 1);
      if (!c2) return std::nullopt;
      k.op = Op::Or;
      k.children.push_back(std::move(*c1));
      k.children.push_back(std::move(*c2));
      return k;
    }
    if (name == "KEYWORD" || name == "UNKEYWORD")
      return with_string(name == "KEYWORD" ? Op::Keyword : Op::Unkeyword, "", "missing keyword");
    if (name == "FROM" || name == "TO" || name == "CC" || name == "BCC" || name == "SUBJECT")
      return with_string(Op::Header, name, "missing search string");
    if (name == "HEADER") {
      const Arg* f = next_value();
      const Arg* v = f ? next_value() : nullptr;
      if (!v) return fail("HEADER needs a field name and a string");
      k.op = Op::Header;
      k.field = ascii_upper(f->text);
      k.value = std::string(v->text);
      return k;
    }
    if (name == "BODY" || name == "TEXT")
      return with_string(name == "BODY" ? Op::Body : Op::Text, "", "missing search string");
    static constexpr std::pair<std::string_view, Op> kDateKeys[] = {
        {"BEFORE", Op::Before},         {"ON", Op::On},         {"SINCE", Op::Since},
        {"SENTBEFORE", Op::SentBefore}, {"SENTON", Op::SentOn}, {"SENTSINCE", Op::SentSince},
        {"SAVEDBEFORE", Op::SavedBefore}, {"SAVEDON", Op::SavedOn}, {"SAVEDSINCE", Op::SavedSince},
    };
    for (const auto& [n, op] : kDateKeys)
      if (name == n) {
        const Arg* v = next_value();
        auto date = v ? parse_search_date(v->text) : std::nullopt;
        if (!date) return fail("invalid date");
        k.op = op;
        k.number = *date;
        return k;
      }
    if (name == "SAVEDATESUPPORTED") return k;  // RFC 8514 §5: every folder keeps save dates, so all
    if (name == "YOUNGER" || name == "OLDER") {
      const Arg* v = next_value();
      const auto seconds = v && v->kind == Arg::Kind::Atom ? parse_number(v->text) : std::nullopt;
      if (!seconds) return fail("YOUNGER and OLDER need a number of seconds");
      k.op = name == "YOUNGER" ? Op::Younger : Op::Older;
      k.number = *seconds;
      return k;
    }
    if (name == "LARGER" || name == "SMALLER") {
      const Arg* v = next_value();
      const auto size = v ? parse_number(v->text) : std::nullopt;
      if (!size) return fail("invalid size");
      k.op = name == "LARGER" ? Op::Larger : Op::Smaller;
      k.number = *size;
      return k;
    }
    if (name == "MODSEQ") {
      // MODSEQ ["/flags/\\Seen" priv|shared|all] n: one mod-sequence per
      // message here, so the metadata entry is ignored as §3.1.5 asks.
      const Arg* v = next_value();
      if (v && v->kind == Arg::Kind::String) {
        const Arg* type = next_value();
        if (!type || !(type->is_atom("PRIV") || type->is_atom("SHARED") || type->is_atom("ALL")))
          return fail("MODSEQ entry type must be priv, shared or all");
        v = next_value();
      }
      const auto modseq = v && v->kind == Arg::Kind::Atom ? parse_mod_sequence(v->text) : std::nullopt;
      if (!modseq) return fail("invalid mod-sequence");
      k.op = Op::Modseq;
      k.number = static_cast<std::int64_t>(*modseq);
      return k;
    }
    if (name == "EMAILID" || name == "THREADID") {
      const Arg* v = next_value();
      if (!v || v->kind != Arg::Kind::Atom) return fail("missing object id");
      k.op = name == "EMAILID" ? Op::EmailId : Op::ThreadId;
      k.value = std::string(v->text);
      return k;
    }
    if (name == "UID") {
      const Arg* v = next_value();
      if (v && v->kind == Arg::Kind::Atom && v->text == "$") {
        k.op = Op::SavedResult;
        return k;
      }
      auto set = v ? SequenceSet::parse(v->text) : std::nullopt;
      if (!set) return fail("invalid UID set");
      k.op = Op::Uids;
      k.set = std::move(set);
      return k;
    }
    return fail("unknown search key " + name);
  }

  std::optional<SearchKey> parse_all_nested(std::size_t depth) {
    SearchKey all;
    all.op = SearchKey::Op::And;
    while (pos_ < args_.size()) {
      auto k = parse_key(depth);
      if (!k) return std::nullopt;
      all.children.push_back(std::move(*k));
    }
    if (all.children.empty()) return fail("empty parenthesized search");
    return all;
  }

  std::span<const Arg> args_;
  std::size_t pos_ = 0;
  std::size_t count_ = 0;
  std::string error_;
};

bool contains_nocase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return ascii_to_lower(a) == ascii_to_lower(b);
  });
  return it != hay.end();
}

// The addresses of an address field as "name mailbox@host" texts, so
// comments and folding white space (RFC 5322 §3.2.2) do not hide them.
bool addresses_match(std::string_view unfolded, std::string_view value) {
  for (const mime::Address& a : mime::parse_address_list(unfolded)) {
    const std::string text = mime::decode_encoded_words(a.name) + " " + a.mailbox + "@" + a.host;
    if (contains_nocase(text, value)) return true;
  }
  return false;
}

bool is_address_field(std::string_view field) {
  for (std::string_view name : {"FROM", "TO", "CC", "BCC", "SENDER", "REPLY-TO"})
    if (ascii_iequals(field, name)) return true;
  return false;
}

bool header_matches(SearchSubject& s, std::string_view field, std::string_view value) {
  const mime::Part& root = s.header_structure();
  for (const auto& h : root.headers) {
    if (!ascii_iequals(h.name, field)) continue;
    if (value.empty()) return true;
    const std::string unfolded = mime::unfold(h.value);
    std::string text = mime::decode_encoded_words(unfolded);
    if (contains_nocase(text, value) || contains_nocase(h.value, value)) return true;
    if (is_address_field(field) && addresses_match(unfolded, value)) return true;
  }
  return false;
}

// BODY and TEXT (RFC 3501 §6.4.4: substrings, ASCII letters without case)
// in the text the store's full-text index reads too, so that narrowing by
// the index never changes an answer.
bool text_matches(SearchSubject& s, const SearchKey& key) {
  if (s.text_candidates) {
    if (const auto found = s.text_candidates->find(&key); found != s.text_candidates->end()) {
      const auto& [possible, in_body, in_header] = found->second;
      const auto has = [&](const std::vector<std::uint32_t>& uids) {
        return std::binary_search(uids.begin(), uids.end(), s.info->uid);
      };
      if (!has(possible)) return false;
      if (has(in_body) || (key.op == SearchKey::Op::Text && has(in_header))) return true;
    }
  }
  const auto text = mailstore::message_text(s.structure(), s.bytes());
  const auto has = [&](const std::vector<std::string>& parts) {
    return std::any_of(parts.begin(), parts.end(), [&](const std::string& part) { return contains_nocase(part, key.value); });
  };
  return (key.op == SearchKey::Op::Text && has(text.header)) || has(text.body);
}

std::int64_t day_of(std::int64_t seconds) {
  return (seconds >= 0 ? seconds : seconds - 86399) / 86400 * 86400;
}

std::optional<std::int64_t> sent_day(SearchSubject& s) {
  auto date = mime::header_value(s.header_structure(), "Date");
  return date ? parse_written_day(*date) : std::nullopt;
}

}  // namespace

std::variant<SearchKey, SearchError> parse_search(std::span<const Arg> args) {
  if (!args.empty() && args[0].is_atom("CHARSET")) {
    if (args.size() < 2 || !args[1].is_astring()) return SearchError{false, "CHARSET needs a name"};
    if (!ascii_iequals(args[1].text, "UTF-8") && !ascii_iequals(args[1].text, "US-ASCII"))
      return SearchError{true, "unsupported charset"};
    args = args.subspan(2);
  }
  SearchParser parser(args);
  auto key = parser.parse_all();
  if (!key) return SearchError{false, parser.error()};
  return std::move(*key);
}

std::string_view SearchSubject::bytes() {
  if (!loaded_) {
    loaded_ = true;
    data_ = load ? load() : nullptr;
  }
  return data_ ? data_->bytes() : std::string_view{};
}

const mime::Part& SearchSubject::structure() {
  if (!part_) part_ = mime::parse_message(bytes());
  return *part_;
}

const mime::Part& SearchSubject::header_structure() {
  if (part_) return *part_;
  if (!header_part_) {
    if (load_header) {
      header_ = load_header();
      header_part_ = mime::parse_message(header_);
    } else {
      const std::string_view all = bytes();
      const auto end = all.find("\r\n\r\n");
      header_part_ = mime::parse_message(end == std::string_view::npos ? all : all.substr(0, end + 4));
    }
  }
  return *header_part_;
}

bool matches(const SearchKey& key, SearchSubject& s) {
  using Op = SearchKey::Op;
  const auto& info = *s.info;
  switch (key.op) {
    case Op::All: return true;
    case Op::And:
      return std::all_of(key.children.begin(), key.children.end(), [&](const SearchKey& c) { return matches(c, s); });
    case Op::Or: return matches(key.children[0], s) || matches(key.children[1], s);
    case Op::Not: return !matches(key.children[0], s);
    case Op::FlagSet: return (info.flags & key.flag) != 0;
    case Op::FlagClear: return (info.flags & key.flag) == 0;
    case Op::Keyword:
    case Op::Unkeyword: {
      bool has = std::any_of(info.keywords.begin(), info.keywords.end(),
                             [&](const std::string& k) { return ascii_iequals(k, key.value); });
      return key.op == Op::Keyword ? has : !has;
    }
    case Op::New: return s.recent && !(info.flags & mailstore::kSeen);
    case Op::Old: return !s.recent;
    case Op::Recent: return s.recent;
    case Op::Modseq: return info.modseq >= static_cast<std::uint64_t>(key.number);
    case Op::Header: return header_matches(s, key.field, key.value);
    case Op::Body:
    case Op::Text: return text_matches(s, key);
    case Op::Before: return day_of(info.internal_date) < key.number;
    case Op::On: return day_of(info.internal_date) == key.number;
    case Op::Since: return day_of(info.internal_date) >= key.number;
    case Op::SavedBefore: return day_of(info.save_date) < key.number;
    case Op::SavedOn: return day_of(info.save_date) == key.number;
    case Op::SavedSince: return day_of(info.save_date) >= key.number;
    case Op::SentBefore: { auto d = sent_day(s); return d && *d < key.number; }
    case Op::SentOn: { auto d = sent_day(s); return d && *d == key.number; }
    case Op::SentSince: { auto d = sent_day(s); return d && *d >= key.number; }
    // RFC 5032 §3: YOUNGER n is "internal date within the last n seconds"
    case Op::Younger: return info.internal_date > s.now - key.number;
    case Op::Older: return info.internal_date <= s.now - key.number;
    case Op::Larger: return info.size > static_cast<std::uint64_t>(key.number);
    case Op::Smaller: return info.size < static_cast<std::uint64_t>(key.number);
    case Op::SequenceNumbers: return key.set->contains(s.seq, s.max_seq);
    case Op::Uids: return key.set->contains(info.uid, s.max_uid);
    case Op::SavedResult: return std::binary_search(s.saved.begin(), s.saved.end(), info.uid);
    case Op::EmailId: return key.value.starts_with('M') && email_object_id(s.bytes()) == key.value;
    case Op::ThreadId: return false;  // RFC 8474 §5.2: without THREADIDs nothing matches
  }
  return false;
}

bool uses_modseq(const SearchKey& key) {
  return key.op == SearchKey::Op::Modseq ||
         std::any_of(key.children.begin(), key.children.end(), [](const SearchKey& c) { return uses_modseq(c); });
}


std::optional<PartialRange> parse_partial_range(std::string_view text) {
  PartialRange range;
  range.text = std::string(text);
  range.from_end = text.starts_with('-');
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view a = text.substr(0, colon), b = text.substr(colon + 1);
  if (range.from_end) {
    if (!b.starts_with('-')) return std::nullopt;
    a.remove_prefix(1);
    b.remove_prefix(1);
  }
  // nz-numbers only ("*" is not allowed), so a sequence set of one range parses them
  const auto set = SequenceSet::parse(std::string(a) + ":" + std::string(b));
  if (!set || set->uses_star()) return std::nullopt;
  const auto ranges = set->ranges(0);
  if (ranges.size() != 1) return std::nullopt;
  std::tie(range.first, range.last) = ranges.front();
  return range;
}

std::pair<std::size_t, std::size_t> PartialRange::slice(std::size_t count) const {
  if (!from_end) return {std::min<std::size_t>(first - 1, count), std::min<std::size_t>(last, count)};
  // -first is the (first)th from the end: index count - first
  const std::size_t begin = count >= last ? count - last : 0;
  const std::size_t end = count >= first ? count - first + 1 : 0;
  return {std::min(begin, end), end};
}

std::variant<SearchReturnPrefix, SearchError> parse_search_return(std::span<const Arg> args) {
  if (args.empty() || !args[0].is_atom("RETURN")) return SearchReturnPrefix{{}, args};
  if (args.size() < 2 || !args[1].is_list()) return SearchError{false, "RETURN needs a list of options"};
  SearchReturn ret;
  ret.extended = true;
  const auto& options = args[1].list;
  for (std::size_t i = 0; i < options.size(); ++i) {
    const Arg& option = options[i];
    if (option.is_atom("MIN")) ret.min = true;
    else if (option.is_atom("MAX")) ret.max = true;
    else if (option.is_atom("COUNT")) ret.count = true;
    else if (option.is_atom("ALL")) ret.all = true;
    else if (option.is_atom("SAVE")) ret.save = true;
    else if (option.is_atom("CONTEXT")) continue;  // RFC 5267 §4.2: a hint that UPDATE or PARTIAL may follow
    else if (option.is_atom("UPDATE") && !ret.update) ret.update = true;
    else if (option.is_atom("PARTIAL") && i + 1 < options.size() && !ret.partial) {
      const Arg& range = options[++i];
      ret.partial = range.kind == Arg::Kind::Atom ? parse_partial_range(range.text) : std::nullopt;
      if (!ret.partial) return SearchError{false, "PARTIAL needs a range such as 1:100 or -1:-100"};
    } else return SearchError{false, "unsupported RETURN option"};
  }
  if (ret.partial && ret.all) return SearchError{false, "PARTIAL and ALL exclude each other"};  // RFC 9394 §3.1
  // "RETURN ()" means ALL; so does UPDATE alone: the client needs the result its updates amend.
  if (!ret.answers() && (!ret.save || ret.update)) ret.all = true;
  return SearchReturnPrefix{ret, args.subspan(2)};
}

std::uint64_t reported_modseq(const SearchReturn& ret, const std::vector<std::uint64_t>& modseqs) {
  if (modseqs.empty()) return 0;
  if (ret.extended && !ret.all && !ret.count) {
    std::uint64_t highest = 0;
    if (ret.min) highest = modseqs.front();
    if (ret.max) highest = std::max(highest, modseqs.back());
    return highest;
  }
  return *std::max_element(modseqs.begin(), modseqs.end());
}

std::string esearch_line(std::string_view tag, bool uid, const SearchReturn& ret,
                         const std::vector<std::uint32_t>& found, std::optional<std::uint64_t> modseq) {
  std::string line = "ESEARCH (TAG \"" + std::string(tag) + "\")";
  if (uid) line += " UID";
  if (ret.min && !found.empty()) line += " MIN " + std::to_string(found.front());
  if (ret.max && !found.empty()) line += " MAX " + std::to_string(found.back());
  if (ret.count) line += " COUNT " + std::to_string(found.size());
  if (ret.all && !found.empty()) line += " ALL " + format_uid_set(found);
  if (ret.partial) {
    const auto [begin, end] = ret.partial->slice(found.size());
    const auto part = std::span(found).subspan(begin, end - begin);
    line += " PARTIAL (" + ret.partial->text + " " + (part.empty() ? "NIL" : format_uid_set(part)) + ")";
  }
  if (modseq && !found.empty()) line += " MODSEQ " + std::to_string(*modseq);
  return line;
}

}  // namespace umstore::imap
