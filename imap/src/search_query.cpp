#include "search_query.hpp"
#include "common/ascii.hpp"

#include <algorithm>
#include <cctype>

#include "common/rfc5322_date.hpp"
#include "message_structure.hpp"
#include "response_writer.hpp"

namespace umstore::imap {
namespace {

constexpr std::size_t kMaxKeys = 1000;
constexpr std::size_t kMaxDepth = 32;

class SearchParser {
 public:
  SearchParser(std::span<const Arg> args, std::string& error) : args_(args), error_(error) {}

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

  std::optional<SearchKey> parse_key(std::size_t depth) {
    if (depth > kMaxDepth || ++count_ > kMaxKeys) return fail("search too complex");
    if (pos_ >= args_.size()) return fail("missing search key");
    const Arg& a = args_[pos_++];
    SearchKey k;
    if (a.is_list()) {
      SearchParser inner(a.list, error_);
      inner.count_ = count_;
      auto r = inner.parse_all_nested(depth + 1);
      count_ = inner.count_;
      return r;
    }
    if (a.kind != Arg::Kind::Atom) return fail("invalid search key");
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
    if (name == "KEYWORD" || name == "UNKEYWORD") {
      const Arg* v = next_value();
      if (!v) return fail("missing keyword");
      k.op = name == "KEYWORD" ? Op::Keyword : Op::Unkeyword;
      k.value = std::string(v->text);
      return k;
    }
    if (name == "FROM" || name == "TO" || name == "CC" || name == "BCC" || name == "SUBJECT") {
      const Arg* v = next_value();
      if (!v) return fail("missing search string");
      k.op = Op::Header;
      k.field = name;
      k.value = std::string(v->text);
      return k;
    }
    if (name == "HEADER") {
      const Arg* f = next_value();
      const Arg* v = f ? next_value() : nullptr;
      if (!v) return fail("HEADER needs a field name and a string");
      k.op = Op::Header;
      k.field = ascii_upper(f->text);
      k.value = std::string(v->text);
      return k;
    }
    if (name == "BODY" || name == "TEXT") {
      const Arg* v = next_value();
      if (!v) return fail("missing search string");
      k.op = name == "BODY" ? Op::Body : Op::Text;
      k.value = std::string(v->text);
      return k;
    }
    static constexpr std::pair<std::string_view, Op> kDateKeys[] = {
        {"BEFORE", Op::Before},         {"ON", Op::On},         {"SINCE", Op::Since},
        {"SENTBEFORE", Op::SentBefore}, {"SENTON", Op::SentOn}, {"SENTSINCE", Op::SentSince},
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
    if (name == "LARGER" || name == "SMALLER") {
      const Arg* v = next_value();
      if (!v || v->text.empty() || v->text.size() > 18 ||
          !std::all_of(v->text.begin(), v->text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return fail("invalid size");
      k.op = name == "LARGER" ? Op::Larger : Op::Smaller;
      k.number = std::stoll(std::string(v->text));
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
    if (name == "UID") {
      const Arg* v = next_value();
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
  std::string& error_;
};

bool contains_nocase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return ascii_to_lower(a) == ascii_to_lower(b);
  });
  return it != hay.end();
}

bool header_matches(SearchSubject& s, std::string_view field, std::string_view value) {
  const mime::Part& root = s.header_structure();
  for (const auto& h : root.headers) {
    if (!ascii_iequals(h.name, field)) continue;
    if (value.empty()) return true;
    std::string text = mime::decode_encoded_words(mime::unfold(h.value));
    if (contains_nocase(text, value) || contains_nocase(h.value, value)) return true;
  }
  return false;
}

bool body_matches(SearchSubject& s, const mime::Part& part, std::string_view value, std::size_t depth) {
  std::string_view bytes = s.bytes();
  if (part.is_multipart() || (part.is_message() && !part.children.empty())) {
    if (depth > 16) return false;
    for (const auto& c : part.children)
      if (body_matches(s, c, value, depth + 1)) return true;
    return false;
  }
  if (part.content_type.type != "text" && part.content_type.type != "message") return false;
  if (part.transfer_encoding == "base64" || part.transfer_encoding == "quoted-printable")
    return contains_nocase(mime::decode_body(part, bytes), value);
  return contains_nocase(part.body(bytes), value);
}

std::int64_t day_of(std::int64_t seconds) {
  return (seconds >= 0 ? seconds : seconds - 86399) / 86400 * 86400;
}

std::optional<std::int64_t> sent_day(SearchSubject& s) {
  auto date = header_value(s.header_structure(), "Date");
  if (!date) return std::nullopt;
  auto t = parse_rfc5322_date(*date);
  if (!t) return std::nullopt;
  return day_of(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count());
}

}  // namespace

std::optional<SearchKey> parse_search(std::span<const Arg> args, std::string& error, bool& bad_charset) {
  bad_charset = false;
  if (!args.empty() && args[0].is_atom("CHARSET")) {
    if (args.size() < 2 || !args[1].is_astring()) {
      error = "CHARSET needs a name";
      return std::nullopt;
    }
    if (!ascii_iequals(args[1].text, "UTF-8") && !ascii_iequals(args[1].text, "US-ASCII")) {
      bad_charset = true;
      error = "unsupported charset";
      return std::nullopt;
    }
    args = args.subspan(2);
  }
  SearchParser p(args, error);
  return p.parse_all();
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
    case Op::Body: return body_matches(s, s.structure(), key.value, 0);
    case Op::Text:
      return contains_nocase(s.structure().header_text(s.bytes()), key.value) ||
             body_matches(s, s.structure(), key.value, 0);
    case Op::Before: return day_of(info.internal_date) < key.number;
    case Op::On: return day_of(info.internal_date) == key.number;
    case Op::Since: return day_of(info.internal_date) >= key.number;
    case Op::SentBefore: { auto d = sent_day(s); return d && *d < key.number; }
    case Op::SentOn: { auto d = sent_day(s); return d && *d == key.number; }
    case Op::SentSince: { auto d = sent_day(s); return d && *d >= key.number; }
    case Op::Larger: return info.size > static_cast<std::uint64_t>(key.number);
    case Op::Smaller: return info.size < static_cast<std::uint64_t>(key.number);
    case Op::SequenceNumbers: return key.set->contains(s.seq, s.max_seq);
    case Op::Uids: return key.set->contains(info.uid, s.max_uid);
  }
  return false;
}

bool uses_modseq(const SearchKey& key) {
  return key.op == SearchKey::Op::Modseq ||
         std::any_of(key.children.begin(), key.children.end(), [](const SearchKey& c) { return uses_modseq(c); });
}

}  // namespace umstore::imap
