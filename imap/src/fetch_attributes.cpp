#include "fetch_attributes.hpp"
#include "common/ascii.hpp"
#include "common/enum_names.hpp"
#include "common/parse_number.hpp"

#include <cctype>

namespace umstore::imap {
namespace {

constexpr std::size_t kMaxFetchItems = 100;

// Section parts and partial ranges, kept to 9 and 18 digits: below IMAP's
// number (2^32) and number64 (2^63) limits.
std::optional<std::uint32_t> small_number(std::string_view s) {
  return s.size() <= 9 ? parse_number<std::uint32_t>(s) : std::nullopt;
}

std::optional<std::uint64_t> big_number(std::string_view s) {
  return s.size() <= 18 ? parse_number<std::uint64_t>(s) : std::nullopt;
}

// "1.2.HEADER.FIELDS (A B)" (the text between the brackets)
bool parse_section(std::string_view spec, Section& section, std::string& canonical) {
  std::string_view rest = spec;
  while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) {
    auto dot = rest.find('.');
    auto n = small_number(rest.substr(0, dot));
    if (!n || *n == 0 || section.part.size() >= 32) return false;
    section.part.push_back(*n);
    if (dot == std::string_view::npos) {
      rest = {};
      break;
    }
    rest = rest.substr(dot + 1);
    if (rest.empty()) return false;
  }
  for (std::size_t i = 0; i < section.part.size(); ++i) canonical += (i ? "." : "") + std::to_string(section.part[i]);
  if (rest.empty()) return true;
  auto sp = rest.find(' ');
  std::string word = ascii_upper(rest.substr(0, sp));
  if (!canonical.empty()) canonical += '.';
  canonical += word;
  if (word == "HEADER") {
    section.text = Section::Text::Header;
  } else if (word == "TEXT") {
    section.text = Section::Text::Text;
  } else if (word == "MIME") {
    if (section.part.empty()) return false;
    section.text = Section::Text::Mime;
  } else if (word == "HEADER.FIELDS" || word == "HEADER.FIELDS.NOT") {
    section.text = word == "HEADER.FIELDS" ? Section::Text::HeaderFields : Section::Text::HeaderFieldsNot;
    if (sp == std::string_view::npos) return false;
    std::string_view list = rest.substr(sp + 1);
    if (list.size() < 2 || list.front() != '(' || list.back() != ')') return false;
    std::deque<std::string> storage;
    const auto names = parse_arguments(list.substr(1, list.size() - 2), storage).args;
    if (!names || names->empty()) return false;
    canonical += " (";
    for (const Arg& a : *names) {
      if (!a.is_astring() || a.text.empty()) return false;
      section.fields.push_back(ascii_upper(a.text));
      if (canonical.back() != '(') canonical += ' ';
      canonical += section.fields.back();
    }
    canonical += ')';
    return true;
  } else {
    return false;
  }
  return sp == std::string_view::npos;
}

// BINARY's section is a part path only: "1.2" or empty.
bool parse_binary_section(std::string_view spec, Section& section, std::string& canonical) {
  if (!parse_section(spec, section, canonical)) return false;
  return section.text == Section::Text::Whole;
}

// BODY[...]<o.n> / BODY.PEEK[...] / BINARY[...]<o.n> / BINARY.PEEK[...] / BINARY.SIZE[...]
std::variant<FetchItem, FetchSyntaxError> parse_body_section(std::string_view atom) {
  FetchItem item;
  std::string upper = ascii_upper(atom.substr(0, atom.find('[')));
  item.peek = upper == "BODY.PEEK" || upper == "BINARY.PEEK" || upper == "BINARY.SIZE";
  const bool binary = upper == "BINARY" || upper == "BINARY.PEEK" || upper == "BINARY.SIZE";
  if (upper != "BODY" && upper != "BODY.PEEK" && !binary) return FetchSyntaxError{"unknown fetch attribute"};
  auto open = atom.find('[');
  auto close = atom.find(']', open);
  std::string canonical;
  const auto spec = close == std::string_view::npos ? std::string_view{} : atom.substr(open + 1, close - open - 1);
  if (close == std::string_view::npos ||
      !(binary ? parse_binary_section(spec, item.section, canonical) : parse_section(spec, item.section, canonical)))
    return FetchSyntaxError{"invalid section"};
  item.kind = !binary ? FetchItem::Kind::Section
              : upper == "BINARY.SIZE" ? FetchItem::Kind::BinarySize
                                       : FetchItem::Kind::Binary;
  item.label = (item.kind == FetchItem::Kind::Section      ? "BODY["
                : item.kind == FetchItem::Kind::BinarySize ? "BINARY.SIZE["
                                                           : "BINARY[") +
               canonical + "]";
  std::string_view tail = atom.substr(close + 1);
  if (tail.empty()) return item;
  if (item.kind == FetchItem::Kind::BinarySize) return FetchSyntaxError{"BINARY.SIZE takes no partial"};
  if (tail.size() < 5 || tail.front() != '<' || tail.back() != '>') return FetchSyntaxError{"invalid partial"};
  tail = tail.substr(1, tail.size() - 2);
  auto dot = tail.find('.');
  auto origin = big_number(tail.substr(0, dot));
  auto count = dot == std::string_view::npos ? std::nullopt : big_number(tail.substr(dot + 1));
  if (!origin || !count || *count == 0) return FetchSyntaxError{"invalid partial"};
  item.partial = std::make_pair(*origin, *count);
  item.label += "<" + std::to_string(*origin) + ">";
  return item;
}

// The attributes that are answered under their own name and need nothing else.
constexpr EnumName<FetchItem::Kind> kPlainAttributes[] = {
    {FetchItem::Kind::Flags, "FLAGS"},
    {FetchItem::Kind::Uid, "UID"},
    {FetchItem::Kind::InternalDate, "INTERNALDATE"},
    {FetchItem::Kind::SaveDate, "SAVEDATE"},
    {FetchItem::Kind::Size, "RFC822.SIZE"},
    {FetchItem::Kind::Modseq, "MODSEQ"},
    {FetchItem::Kind::EmailId, "EMAILID"},
    {FetchItem::Kind::ThreadId, "THREADID"},
    {FetchItem::Kind::Envelope, "ENVELOPE"},
    {FetchItem::Kind::Body, "BODY"},
    {FetchItem::Kind::BodyStructure, "BODYSTRUCTURE"},
    {FetchItem::Kind::Section, "RFC822"},
};

// Adds the items `name` stands for to `req`; what is wrong with it otherwise.
std::optional<FetchSyntaxError> add_simple(std::string_view name, FetchRequest& req) {
  std::string upper = ascii_upper(name);
  FetchItem item;
  item.label = upper;
  auto add = [&](FetchItem::Kind k) {
    item.kind = k;
    req.items.push_back(item);
  };
  if (upper == "ALL" || upper == "FAST" || upper == "FULL") {
    for (std::string_view n : {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}) add_simple(n, req);
    if (upper != "FAST") add_simple("ENVELOPE", req);
    if (upper == "FULL") add_simple("BODY", req);
  } else if (const auto kind = value_named(kPlainAttributes, upper)) {
    add(*kind);
  } else if (upper == "RFC822.HEADER") {
    item.section.text = Section::Text::Header;
    item.peek = true;
    add(FetchItem::Kind::Section);
  } else if (upper == "RFC822.TEXT") {
    item.section.text = Section::Text::Text;
    add(FetchItem::Kind::Section);
  } else if (name.find('[') != std::string_view::npos) {
    auto body = parse_body_section(name);
    if (auto* error = std::get_if<FetchSyntaxError>(&body)) return std::move(*error);
    req.items.push_back(std::get<FetchItem>(std::move(body)));
  } else {
    return FetchSyntaxError{"unknown fetch attribute " + upper};
  }
  return std::nullopt;
}

bool is_macro(const Arg& a) { return a.is_atom("ALL") || a.is_atom("FAST") || a.is_atom("FULL"); }

}  // namespace

std::variant<FetchRequest, FetchSyntaxError> parse_fetch_request(const Arg& arg, bool uid_command) {
  FetchRequest req;
  if (arg.is_list()) {
    if (arg.list.empty() || arg.list.size() > kMaxFetchItems) return FetchSyntaxError{"invalid fetch attribute list"};
    for (const Arg& a : arg.list) {
      if (a.kind != Arg::Kind::Atom || is_macro(a)) return FetchSyntaxError{"invalid fetch attribute"};
      if (auto error = add_simple(a.text, req)) return std::move(*error);
    }
  } else if (arg.kind == Arg::Kind::Atom) {
    if (auto error = add_simple(arg.text, req)) return std::move(*error);
  } else {
    return FetchSyntaxError{"invalid fetch attribute"};
  }
  bool has_uid = false;
  for (const FetchItem& i : req.items) {
    has_uid = has_uid || i.kind == FetchItem::Kind::Uid;
    if (i.kind == FetchItem::Kind::Envelope || i.kind == FetchItem::Kind::Body ||
        i.kind == FetchItem::Kind::BodyStructure || i.kind == FetchItem::Kind::Section ||
        i.kind == FetchItem::Kind::Binary || i.kind == FetchItem::Kind::BinarySize ||
        i.kind == FetchItem::Kind::EmailId)
      req.needs_bytes = true;
    if ((i.kind == FetchItem::Kind::Section || i.kind == FetchItem::Kind::Binary) && !i.peek) req.sets_seen = true;
    if (i.kind == FetchItem::Kind::Binary || i.kind == FetchItem::Kind::BinarySize) req.has_binary = true;
  }
  if (uid_command && !has_uid) {
    FetchItem uid;
    uid.kind = FetchItem::Kind::Uid;
    uid.label = "UID";
    req.items.insert(req.items.begin(), uid);
  }
  return req;
}

namespace {

// The part a section number path names (RFC 3501 §6.4.5 numbering).
const mime::Part* resolve_part(const mime::Part& root, const std::vector<std::uint32_t>& path) {
  const mime::Part* p = &root;
  bool first = true;
  for (std::uint32_t n : path) {
    if (!first && p->is_message() && !p->children.empty()) p = &p->children.front();
    first = false;
    if (p->is_multipart()) {
      if (n < 1 || n > p->children.size()) return nullptr;
      p = &p->children[n - 1];
    } else if (n != 1) {
      return nullptr;
    }
  }
  return p;
}

std::string_view slice(std::string_view message, std::size_t begin, std::size_t end) {
  if (begin > message.size()) return {};
  if (end > message.size()) end = message.size();
  if (end < begin) return {};
  return message.substr(begin, end - begin);
}

bool field_listed(std::string_view name, const std::vector<std::string>& fields) {
  for (const auto& f : fields)
    if (ascii_iequals(f, name)) return true;
  return false;
}

// The raw bytes of one header field including its folds, without the final CRLF.
std::string_view raw_field(const mime::HeaderField& f, std::string_view message) {
  const char* b = f.name.data();
  const char* e = f.value.data() + f.value.size();
  if (b >= message.data() && e <= message.data() + message.size() && e >= b)
    return std::string_view(b, static_cast<std::size_t>(e - b));
  return {};
}

}  // namespace

std::optional<std::string_view> section_bytes(const Section& section, const mime::Part& root, std::string_view message,
                                              std::string& scratch) {
  const mime::Part* part = resolve_part(root, section.part);
  if (!part) return std::nullopt;
  if (section.text == Section::Text::Whole) {
    if (section.part.empty()) return message;
    return slice(message, part->body_begin, part->body_end);
  }
  if (section.text == Section::Text::Mime) return slice(message, part->header_begin, part->body_begin);
  // HEADER / TEXT / HEADER.FIELDS of a message: the root or an encapsulated message/rfc822
  const mime::Part* msg = part;
  if (!section.part.empty()) {
    if (!part->is_message() || part->children.empty()) return std::nullopt;
    msg = &part->children.front();
  }
  switch (section.text) {
    case Section::Text::Header:
      return slice(message, msg->header_begin, msg->body_begin);
    case Section::Text::Text:
      return slice(message, msg->body_begin, msg->body_end);
    default:
      break;
  }
  bool want_listed = section.text == Section::Text::HeaderFields;
  scratch.clear();
  for (const auto& f : msg->headers) {
    if (field_listed(f.name, section.fields) != want_listed) continue;
    std::string_view raw = raw_field(f, message);
    if (raw.empty()) {
      scratch.append(f.name).append(":").append(f.value);
    } else {
      scratch.append(raw);
    }
    scratch += "\r\n";
  }
  scratch += "\r\n";
  return std::string_view(scratch);
}

BinaryStatus binary_section(const Section& section, const mime::Part& root, std::string_view message,
                            std::string& scratch, std::string_view& out, bool decode) {
  if (section.part.empty()) {
    out = message;
    return BinaryStatus::Ok;
  }
  const mime::Part* part = resolve_part(root, section.part);
  if (!part) return BinaryStatus::NoSuchPart;
  const std::string_view body = slice(message, part->body_begin, part->body_end);
  const std::string& cte = part->transfer_encoding;
  if (part->is_multipart() || part->is_message() || cte == "7bit" || cte == "8bit" || cte == "binary") {
    out = body;
  } else if (!decode && (cte == "base64" || cte == "quoted-printable")) {
    out = {};
  } else if (cte == "base64") {
    scratch = mime::base64_decode(body);
    out = scratch;
  } else if (cte == "quoted-printable") {
    scratch = mime::quoted_printable_decode(body);
    out = scratch;
  } else {
    return BinaryStatus::UnknownEncoding;
  }
  return BinaryStatus::Ok;
}

}  // namespace umstore::imap
