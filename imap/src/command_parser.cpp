#include "command_parser.hpp"
#include "common/ascii.hpp"

#include <cctype>

namespace umstore::imap {

bool Arg::is_atom(std::string_view upper) const { return kind == Kind::Atom && ascii_iequals(text, upper); }

std::optional<LiteralHeader> trailing_literal(std::string_view line) {
  if (line.size() < 3 || line.back() != '}') return std::nullopt;
  auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view inner = line.substr(open + 1, line.size() - open - 2);
  LiteralHeader h;
  if (!inner.empty() && inner.back() == '+') {
    h.synchronizing = false;
    inner.remove_suffix(1);
  }
  if (inner.empty() || inner.size() > 12) return std::nullopt;
  for (char c : inner) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    h.size = h.size * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return h;
}

std::string_view guess_tag(std::string_view text) {
  auto end = text.find_first_of(" \r\n");
  std::string_view tag = text.substr(0, end);
  if (tag.empty() || tag.size() > 64) return "*";
  for (char c : tag)
    if (static_cast<unsigned char>(c) <= ' ' || c == '{' || c == '(' || c == ')' || c == '"' || c == '%' ||
        static_cast<unsigned char>(c) >= 0x7f)
      return "*";
  return tag;
}

namespace {

constexpr std::size_t kMaxDepth = 16;
constexpr std::size_t kMaxArgs = 100000;

// Fetch attributes whose "[...]" section may hold spaces and parentheses.
bool is_section_prefix(std::string_view atom) {
  for (std::string_view name : {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"})
    if (ascii_iequals(atom, name)) return true;
  return false;
}

class ArgParser {
 public:
  ArgParser(std::string_view text, std::deque<std::string>& storage) : s_(text), storage_(storage) {}

  bool parse_list_items(std::vector<Arg>& out, bool in_list, std::size_t depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    for (;;) {
      if (pos_ >= s_.size()) {
        if (in_list) return fail("missing ')'");
        return true;
      }
      char c = s_[pos_];
      if (c == ')') {
        if (!in_list) return fail("unexpected ')'");
        ++pos_;
        return true;
      }
      if (!out.empty() || in_list) {
        // items are separated by one space (lenient: several)
        if (c == ' ') {
          while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
          continue;
        }
      }
      if (++count_ > kMaxArgs) return fail("too many arguments");
      Arg a;
      if (!parse_one(a, depth)) return false;
      out.push_back(std::move(a));
      if (pos_ < s_.size() && s_[pos_] != ' ' && s_[pos_] != ')') return fail("missing space between arguments");
    }
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
    return false;
  }

  bool parse_one(Arg& a, std::size_t depth) {
    char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      a.kind = Arg::Kind::List;
      return parse_list_items(a.list, true, depth + 1);
    }
    if (c == '"') return parse_quoted(a);
    if (c == '{') return parse_literal(a);
    if (c == '~' && s_.substr(pos_ + 1, 1) == "{") {  // literal8 (RFC 3516, APPEND of binary content)
      ++pos_;
      a.literal8 = true;
      return parse_literal(a);
    }
    return parse_atom(a);
  }

  bool parse_quoted(Arg& a) {
    ++pos_;
    std::string value;
    bool escaped_any = false;
    std::size_t begin = pos_;
    for (;;) {
      if (pos_ >= s_.size()) return fail("unterminated quoted string");
      char c = s_[pos_];
      if (c == '\r' || c == '\n' || c == '\0') return fail("CR/LF/NUL in quoted string");
      if (c == '"') break;
      if (c == '\\') {
        if (pos_ + 1 >= s_.size()) return fail("unterminated quoted string");
        char n = s_[pos_ + 1];
        if (n != '\\' && n != '"') return fail("bad escape in quoted string");
        if (!escaped_any) value.assign(s_.substr(begin, pos_ - begin));
        escaped_any = true;
        value.push_back(n);
        pos_ += 2;
        continue;
      }
      if (escaped_any) value.push_back(c);
      ++pos_;
    }
    a.kind = Arg::Kind::String;
    if (escaped_any) {
      storage_.push_back(std::move(value));
      a.text = storage_.back();
    } else {
      a.text = s_.substr(begin, pos_ - begin);
    }
    ++pos_;
    return true;
  }

  bool parse_literal(Arg& a) {
    auto close = s_.find('}', pos_);
    if (close == std::string_view::npos) return fail("bad literal");
    auto header = trailing_literal(s_.substr(pos_, close - pos_ + 1));
    if (!header || s_.substr(close + 1, 2) != "\r\n") return fail("bad literal");
    std::size_t begin = close + 3;
    if (header->size > s_.size() - begin) return fail("literal shorter than announced");
    a.kind = Arg::Kind::String;
    a.literal = true;
    a.text = s_.substr(begin, header->size);
    pos_ = begin + header->size;
    return true;
  }

  bool parse_atom(Arg& a) {
    std::size_t begin = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '[' && is_section_prefix(s_.substr(begin, pos_ - begin))) {
        // fetch sections: BODY[HEADER.FIELDS (A B)]<0.10> stays one atom;
        // elsewhere "[" is an ordinary atom character (mailbox "a[b")
        auto close = s_.find(']', pos_);
        if (close == std::string_view::npos) return fail("missing ']'");
        if (s_.substr(pos_, close - pos_).find_first_of("\r\n{") != std::string_view::npos)
          return fail("bad section");
        pos_ = close + 1;
        continue;
      }
      if (c == ' ' || c == '(' || c == ')' || c == '"' || c == '{' || static_cast<unsigned char>(c) < ' ' ||
          c == 0x7f)
        break;
      ++pos_;
    }
    if (pos_ == begin) return fail("unexpected character");
    a.text = s_.substr(begin, pos_ - begin);
    a.kind = ascii_iequals(a.text, "NIL") ? Arg::Kind::Nil : Arg::Kind::Atom;
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t count_ = 0;
  std::deque<std::string>& storage_;
  std::string error_;
};

bool is_tag_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > ' ' && u < 0x7f && c != '(' && c != ')' && c != '{' && c != '"' && c != '\\' && c != '%' &&
         c != '*' && c != '+' && c != ']';
}

std::string_view take_word(std::string_view& rest) {
  auto sp = rest.find(' ');
  std::string_view w = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  return w;
}

}  // namespace

ArgumentsResult parse_arguments(std::string_view text, std::deque<std::string>& storage) {
  ArgParser p(text, storage);
  std::vector<Arg> args;
  if (!p.parse_list_items(args, false, 0)) return {std::nullopt, p.error()};
  return {std::move(args), {}};
}

ParseResult parse_command(std::string_view text, std::deque<std::string>& storage) {
  ParseResult r;
  std::string_view rest = text;
  std::string_view tag = take_word(rest);
  if (tag.empty() || tag.size() > 64) {
    r.error = "missing tag";
    return r;
  }
  for (char c : tag)
    if (!is_tag_char(c)) {
      r.error = "invalid tag";
      return r;
    }
  std::string_view name = take_word(rest);
  if (name.empty()) {
    r.error = "missing command";
    return r;
  }
  for (char c : name)
    if (!std::isalpha(static_cast<unsigned char>(c))) {
      r.error = "invalid command name";
      return r;
    }
  Command cmd;
  cmd.tag = std::string(tag);
  cmd.name = ascii_upper(name);
  if (cmd.name == "UID") {
    std::string_view sub = take_word(rest);
    if (sub.empty()) {
      r.error = "UID needs a command";
      return r;
    }
    cmd.name += " " + ascii_upper(sub);
  }
  auto parsed = parse_arguments(rest, storage);
  if (!parsed.args) {
    r.error = std::move(parsed.error);
    return r;
  }
  cmd.args = std::move(*parsed.args);
  r.command = std::move(cmd);
  return r;
}

std::optional<std::uint64_t> parse_mod_sequence(std::string_view text) {
  constexpr std::uint64_t kMax = (std::uint64_t{1} << 63) - 1;
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (kMax - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace umstore::imap
