#include "mime/imap_structure.hpp"

#include <cctype>

#include "common/ascii.hpp"

namespace umstore::mime {
namespace {

bool quotable(std::string_view s, bool utf8) {
  if (s.size() > 1024) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == 0 || c == '\r' || c == '\n' || (u >= 0x80 && !utf8)) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct Token {
  enum class Kind { Word, Special, Angle, Comment } kind;
  std::string text;
  char special = 0;
};

// The end of the comment opening at s[i] (nested, with quoted pairs).
std::size_t comment_end(std::string_view s, std::size_t i) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '(') {
      ++depth;
    } else if (s[i] == ')' && --depth == 0) {
      return i;
    }
  }
  return s.size();
}

// An addr-spec without its CFWS (RFC 5322 §3.2.2): "carol (boss) @ x.org"
// is "carol@x.org"; quoted local parts keep their spaces.
std::string without_cfws(std::string_view s) {
  std::string out;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      out += c;
      if (c == '\\' && i + 1 < s.size()) out += s[++i];
      else if (c == '"') quoted = false;
    } else if (c == '"') {
      quoted = true;
      out += c;
    } else if (c == '(') {
      i = comment_end(s, i);
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      out += c;
    }
  }
  return out;
}

// Splits an address list into words (atoms with '.' and '@', quoted
// strings), specials (',' ':' ';'), angle addresses (CFWS removed) and
// comments.
std::vector<Token> tokenize_addresses(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size() && out.size() < 10000) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '(') {
      const std::size_t end = comment_end(s, i);
      out.push_back({Token::Kind::Comment, std::string(trim(s.substr(i + 1, end > i ? end - i - 1 : 0)))});
      i = end + 1;
    } else if (c == '"') {
      std::string w;
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        w.push_back(s[i++]);
      }
      ++i;
      out.push_back({Token::Kind::Word, std::move(w)});
    } else if (c == '<') {
      auto close = s.find('>', i);
      if (close == std::string_view::npos) close = s.size();
      out.push_back({Token::Kind::Angle, without_cfws(s.substr(i + 1, close - i - 1))});
      i = close + 1;
    } else if (c == ',' || c == ':' || c == ';') {
      out.push_back({Token::Kind::Special, {}, c});
      ++i;
    } else {
      std::size_t b = i;
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) &&
             std::string_view("(\"<,:;").find(s[i]) == std::string_view::npos)
        ++i;
      out.push_back({Token::Kind::Word, std::string(s.substr(b, i - b))});
    }
  }
  return out;
}

void split_addr_spec(std::string_view spec, Address& a) {
  // obs-route "@relay1,@relay2:" goes to the adl field (RFC 3501 §7.4.2)
  auto route_end = spec.find(':');
  if (!spec.empty() && spec.front() == '@' && route_end != std::string_view::npos) {
    a.route = std::string(spec.substr(0, route_end));
    spec = spec.substr(route_end + 1);
  }
  auto at = spec.rfind('@');
  if (at == std::string_view::npos) {
    a.mailbox = std::string(spec);
  } else {
    a.mailbox = std::string(spec.substr(0, at));
    a.host = std::string(spec.substr(at + 1));
  }
}

void append_address_list(std::string& out, const std::vector<Address>& addresses) {
  if (addresses.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const Address& a : addresses) {
    out += '(';
    append_nstring(out, a.name.empty() ? std::nullopt : std::optional<std::string_view>(a.name));
    out += ' ';
    append_nstring(out, a.route.empty() ? std::nullopt : std::optional<std::string_view>(a.route));
    out += ' ';
    if (a.group_end) {
      out += "NIL NIL";
    } else {
      append_nstring(out, a.mailbox);
      out += ' ';
      if (a.group_start)
        out += "NIL";
      else
        append_nstring(out, a.host.empty() ? std::optional<std::string_view>("missing-domain")
                                           : std::optional<std::string_view>(a.host));
    }
    out += ')';
  }
  out += ')';
}

void append_upper_string(std::string& out, std::string_view s) { append_string(out, ascii_upper(s)); }

void append_parameters(std::string& out, const Parameters& params, bool default_charset) {
  if (params.items.empty() && !default_charset) {
    out += "NIL";
    return;
  }
  out += '(';
  bool first = true;
  if (default_charset) {
    out += "\"CHARSET\" \"us-ascii\"";
    first = false;
  }
  for (const auto& [name, value] : params.items) {
    if (!first) out += ' ';
    first = false;
    append_upper_string(out, name);
    out += ' ';
    append_string(out, value);
  }
  out += ')';
}

void append_optional(std::string& out, const std::optional<std::string>& s) {
  append_nstring(out, s ? std::optional<std::string_view>(*s) : std::nullopt);
}

void append_extension(std::string& out, const Part& part) {
  out += ' ';
  if (part.disposition.type.empty()) {
    out += "NIL";
  } else {
    out += '(';
    append_upper_string(out, part.disposition.type);
    out += ' ';
    append_parameters(out, part.disposition.params, false);
    out += ')';
  }
  out += ' ';
  if (part.languages.empty()) {
    out += "NIL";
  } else {
    out += '(';
    for (std::size_t i = 0; i < part.languages.size(); ++i) {
      if (i) out += ' ';
      append_string(out, part.languages[i]);
    }
    out += ')';
  }
  out += ' ';
  append_optional(out, part.location);
}

}  // namespace

void append_string(std::string& out, std::string_view s, bool utf8) {
  if (quotable(s, utf8)) {
    out.push_back('"');
    for (char c : s) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
    return;
  }
  out += '{' + std::to_string(s.size()) + "}\r\n";
  out += s;
}

void append_nstring(std::string& out, std::optional<std::string_view> s) {
  if (!s) {
    out += "NIL";
    return;
  }
  append_string(out, *s);
}

std::vector<Address> parse_address_list(std::string_view unfolded) {
  auto tokens = tokenize_addresses(unfolded);
  std::vector<Address> out;
  std::vector<std::string> phrase;
  bool have_angle = false;
  bool in_group = false;
  std::string item_comment;  // the last comment of an addr-spec names it, as in Dovecot
  auto finish_item = [&] {
    if (!have_angle && !phrase.empty()) {
      Address a;
      std::string spec;
      for (const auto& w : phrase) spec += w;
      split_addr_spec(spec, a);
      a.name = item_comment;
      out.push_back(std::move(a));
    }
    phrase.clear();
    have_angle = false;
    item_comment.clear();
  };
  for (const Token& t : tokens) {
    if (t.kind == Token::Kind::Word) {
      phrase.push_back(t.text);
    } else if (t.kind == Token::Kind::Comment) {
      if (!t.text.empty()) item_comment = t.text;
    } else if (t.kind == Token::Kind::Angle) {
      Address a;
      std::string name;
      for (const auto& w : phrase) name += (name.empty() ? "" : " ") + w;
      a.name = name;
      split_addr_spec(t.text, a);
      out.push_back(std::move(a));
      phrase.clear();
      have_angle = true;
    } else if (t.special == ':' && !in_group && !have_angle) {
      Address g;
      for (const auto& w : phrase) g.mailbox += (g.mailbox.empty() ? "" : " ") + w;
      g.group_start = true;
      out.push_back(std::move(g));
      phrase.clear();
      item_comment.clear();
      in_group = true;
    } else if (t.special == ',') {
      finish_item();
    } else if (t.special == ';') {
      finish_item();
      if (in_group) {
        Address e;
        e.group_end = true;
        out.push_back(std::move(e));
        in_group = false;
      }
    }
    if (out.size() > 1000) break;
  }
  finish_item();
  if (in_group) {
    Address e;
    e.group_end = true;
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<std::string> header_value(const Part& part, std::string_view name) {
  auto raw = part.header(name);
  if (!raw) return std::nullopt;
  return std::string(trim(unfold(*raw)));
}

void append_envelope(std::string& out, const Part& message, std::string_view) {
  const auto addresses = [&](std::string_view field) {
    const auto value = header_value(message, field);
    return value ? parse_address_list(*value) : std::vector<Address>{};
  };
  const auto from = addresses("From");
  // RFC 3501 §7.4.2: a missing or empty Sender/Reply-To is From
  auto sender = addresses("Sender");
  if (sender.empty()) sender = from;
  auto reply_to = addresses("Reply-To");
  if (reply_to.empty()) reply_to = from;
  out += '(';
  append_optional(out, header_value(message, "Date"));
  out += ' ';
  append_optional(out, header_value(message, "Subject"));
  out += ' ';
  append_address_list(out, from);
  out += ' ';
  append_address_list(out, sender);
  out += ' ';
  append_address_list(out, reply_to);
  out += ' ';
  append_address_list(out, addresses("To"));
  out += ' ';
  append_address_list(out, addresses("Cc"));
  out += ' ';
  append_address_list(out, addresses("Bcc"));
  out += ' ';
  append_optional(out, header_value(message, "In-Reply-To"));
  out += ' ';
  append_optional(out, header_value(message, "Message-ID"));
  out += ')';
}

void append_body_structure(std::string& out, const Part& part, std::string_view bytes, bool extended) {
  const auto& ct = part.content_type;
  if (part.is_multipart()) {
    out += '(';
    if (part.children.empty()) out += "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)";
    for (const auto& child : part.children) append_body_structure(out, child, bytes, extended);
    out += ' ';
    append_upper_string(out, ct.subtype);
    if (extended) {
      out += ' ';
      append_parameters(out, ct.params, false);
      append_extension(out, part);
    }
    out += ')';
    return;
  }
  bool text = ct.type == "text";
  out += '(';
  append_upper_string(out, ct.type);
  out += ' ';
  append_upper_string(out, ct.subtype);
  out += ' ';
  append_parameters(out, ct.params, text && !ct.params.get("charset"));
  out += ' ';
  append_optional(out, part.id);
  out += ' ';
  append_optional(out, part.description);
  out += ' ';
  append_upper_string(out, part.transfer_encoding);
  std::size_t size = part.body_end >= part.body_begin ? part.body_end - part.body_begin : 0;
  out += ' ' + std::to_string(size);
  if (text) {
    out += ' ' + std::to_string(part.body_lines);
  } else if (part.is_message() && !part.children.empty()) {
    out += ' ';
    append_envelope(out, part.children.front(), bytes);
    out += ' ';
    append_body_structure(out, part.children.front(), bytes, extended);
    out += ' ' + std::to_string(part.body_lines);
  }
  if (extended) {
    out += ' ';
    append_optional(out, part.md5);
    append_extension(out, part);
  }
  out += ')';
}

}  // namespace umstore::mime
