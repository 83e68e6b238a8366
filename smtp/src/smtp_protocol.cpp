#include "smtp/smtp_protocol.hpp"
#include "common/ascii.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "common/e164.hpp"

namespace umstore::smtp {
namespace {

std::string_view trim_trailing_spaces(std::string_view s) noexcept {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_alnum(char c) noexcept { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

bool is_utf8_octet(char c) noexcept { return static_cast<unsigned char>(c) >= 0x80; }

// RFC 5322 atext, plus UTF-8 (RFC 6531 §3.3) so SMTPUTF8 addresses parse.
bool is_atext(char c) noexcept {
  static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  return is_alnum(c) || is_utf8_octet(c) || specials.find(c) != std::string_view::npos;
}

[[noreturn]] void syntax_error(const std::string& what) { throw SmtpSyntaxError(501, "5.5.2", what); }
[[noreturn]] void parameter_error(const std::string& what) { throw SmtpSyntaxError(501, "5.5.4", what); }

// Dot-string = Atom *("." Atom)
bool is_dot_string(std::string_view s) noexcept {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;
    } else if (!is_atext(s[i])) {
      return false;
    }
  }
  return true;
}

// Domain = sub-domain *("." sub-domain) / address-literal. Underscores are
// tolerated because real hosts use them.
bool is_domain(std::string_view s) noexcept {
  if (s.empty() || s.size() > kMaxDomain) return false;
  if (s.front() == '[') {
    if (s.size() < 3 || s.back() != ']') return false;
    return std::all_of(s.begin() + 1, s.end() - 1,
                       [](char c) { return c > 32 && c < 127 && c != '[' && c != ']' && c != '\\'; });
  }
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      std::string_view label = s.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
    } else if (!is_alnum(s[i]) && !is_utf8_octet(s[i]) && s[i] != '-' && s[i] != '_') {
      return false;
    }
  }
  return true;
}

// Reads a quoted-string starting at text[0] == '"'; returns its decoded
// content and the number of octets consumed.
std::pair<std::string, std::size_t> read_quoted_string(std::string_view text) {
  std::string out;
  for (std::size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') return {out, i + 1};
    if (c == '\\') {
      if (i + 1 >= text.size() || text[i + 1] < 32 || text[i + 1] > 126) syntax_error("bad quoted-pair in local part");
      out.push_back(text[++i]);
    } else if (c < 32 || c > 126) {
      syntax_error("local part has a character that is not printable US-ASCII");
    } else {
      out.push_back(c);
    }
  }
  syntax_error("local part has an unterminated quoted string");
}

Mailbox parse_mailbox(std::string_view text, bool allow_bare_postmaster) {
  Mailbox mailbox;
  std::size_t at = 0;
  if (!text.empty() && text.front() == '"') {
    auto [local, used] = read_quoted_string(text);
    mailbox.local_part = std::move(local);
    mailbox.quoted = true;
    at = used;
    if (at >= text.size() || text[at] != '@') syntax_error("address needs @domain after the quoted local part");
  } else {
    at = text.rfind('@');
    if (at == std::string_view::npos) {
      if (allow_bare_postmaster && ascii_iequals(text, "postmaster")) {
        mailbox.local_part = std::string(text);
        return mailbox;
      }
      syntax_error("address must be local-part@domain");
    }
    std::string_view local = text.substr(0, at);
    if (!is_dot_string(local)) syntax_error("local part '" + std::string(local) + "' is not a valid dot-string");
    mailbox.local_part = std::string(local);
  }
  if (mailbox.local_part.size() > kMaxLocalPart)
    syntax_error("local part is longer than " + std::to_string(kMaxLocalPart) + " octets");
  std::string_view domain = text.substr(at + 1);
  if (!is_domain(domain)) syntax_error("'" + std::string(domain) + "' is not a valid domain");
  mailbox.domain = std::string(domain);
  return mailbox;
}

// esmtp-param = esmtp-keyword ["=" esmtp-value]
std::vector<EsmtpParameter> parse_parameters(std::string_view text) {
  std::vector<EsmtpParameter> out;
  constexpr std::size_t kMaxParameters = 16;
  while (!text.empty()) {
    if (text.front() == ' ') {
      text.remove_prefix(1);
      continue;
    }
    auto end = std::min(text.find(' '), text.size());
    std::string_view item = text.substr(0, end);
    text.remove_prefix(end);
    auto eq = item.find('=');
    std::string_view keyword = item.substr(0, eq);
    if (keyword.empty() || !is_alnum(keyword.front()) ||
        !std::all_of(keyword.begin(), keyword.end(), [](char c) { return is_alnum(c) || c == '-'; }))
      parameter_error("bad parameter '" + std::string(item) + "'");
    EsmtpParameter parameter{ascii_upper(keyword), {}};
    if (eq != std::string_view::npos) {
      std::string_view value = item.substr(eq + 1);
      if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c > 32 && c < 127 && c != '='; }))
        parameter_error("parameter " + parameter.keyword + " has a bad value");
      parameter.value = std::string(value);
    }
    if (std::any_of(out.begin(), out.end(), [&](const auto& p) { return p.keyword == parameter.keyword; }))
      parameter_error("parameter " + parameter.keyword + " given twice");
    if (out.size() == kMaxParameters) parameter_error("too many parameters");
    out.push_back(std::move(parameter));
  }
  return out;
}

PathArgument parse_path(std::string_view text, bool reverse) {
  if (!text.empty() && text.front() == ' ') text.remove_prefix(1);  // "MAIL FROM: <x>" is common
  if (text.empty() || text.front() != '<')
    syntax_error(std::string(reverse ? "sender" : "recipient") + " address must be enclosed in <>");
  auto close = text.find('>');
  // A '>' inside a quoted local part would end the search early; find the
  // closing bracket after the quoted-string instead.
  if (text.size() > 1 && text[1] == '"') {
    std::size_t i = 2;
    while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
    close = text.find('>', i);
  }
  if (close == std::string_view::npos) syntax_error("address is missing its closing >");
  if (close + 1 > kMaxPath) syntax_error("address is longer than " + std::to_string(kMaxPath) + " octets");
  std::string_view inside = text.substr(1, close - 1);
  std::string_view rest = text.substr(close + 1);
  if (!rest.empty() && rest.front() != ' ') syntax_error("parameters must be separated from the address by a space");

  PathArgument argument;
  argument.parameters = parse_parameters(rest);
  if (inside.empty()) {
    if (!reverse) syntax_error("recipient address must not be empty");
    return argument;
  }
  // A-d-l (source route) "@a,@b:" is obsolete and MUST be ignored (RFC 5321 §4.1.2).
  if (inside.front() == '@') {
    auto colon = inside.find(':');
    if (colon == std::string_view::npos) syntax_error("bad source route in address");
    inside.remove_prefix(colon + 1);
  }
  argument.mailbox = parse_mailbox(inside, !reverse);
  return argument;
}

bool is_local_domain(std::string_view domain, std::span<const std::string> local_domains) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  return std::any_of(local_domains.begin(), local_domains.end(), [&](const std::string& d) { return ascii_iequals(d, domain); });
}

// Removes "/KEY=digits" qualifiers whose keywords `allowed` names; false
// when another qualifier is present (we would silently drop its meaning).
bool strip_qualifiers(std::string_view& text, std::span<const std::string_view> allowed) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return true;
  std::string_view qualifiers = text.substr(slash);
  text = text.substr(0, slash);
  while (!qualifiers.empty()) {
    qualifiers.remove_prefix(1);  // the '/'
    auto next = std::min(qualifiers.find('/'), qualifiers.size());
    std::string_view item = qualifiers.substr(0, next);
    qualifiers.remove_prefix(next);
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq + 1 == item.size()) return false;
    std::string_view key = item.substr(0, eq);
    if (std::none_of(allowed.begin(), allowed.end(), [&](std::string_view a) { return ascii_iequals(a, key); })) return false;
    std::string_view value = item.substr(eq + 1);
    if (!std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  }
  return true;
}

}  // namespace

Command parse_command(std::string_view line) noexcept {
  static constexpr std::array<std::pair<std::string_view, Verb>, 14> verbs{{
      {"EHLO", Verb::Ehlo}, {"HELO", Verb::Helo}, {"MAIL", Verb::Mail}, {"RCPT", Verb::Rcpt},
      {"DATA", Verb::Data}, {"RSET", Verb::Rset}, {"NOOP", Verb::Noop}, {"QUIT", Verb::Quit},
      {"VRFY", Verb::Vrfy}, {"EXPN", Verb::Expn}, {"HELP", Verb::Help}, {"STARTTLS", Verb::Starttls},
      {"BDAT", Verb::Bdat}, {"AUTH", Verb::Auth},
  }};
  auto space = line.find(' ');
  std::string_view word = line.substr(0, space);
  Command command;
  if (space != std::string_view::npos) command.argument = trim_trailing_spaces(line.substr(space + 1));
  for (const auto& [name, verb] : verbs)
    if (ascii_iequals(word, name)) command.verb = verb;
  return command;
}

std::string Mailbox::address() const {
  std::string local;
  if (quoted) {
    local.push_back('"');
    for (char c : local_part) {
      if (c == '"' || c == '\\') local.push_back('\\');
      local.push_back(c);
    }
    local.push_back('"');
  } else {
    local = local_part;
  }
  return domain.empty() ? local : local + "@" + domain;
}

PathArgument parse_reverse_path(std::string_view text) { return parse_path(text, true); }
PathArgument parse_forward_path(std::string_view text) { return parse_path(text, false); }

std::optional<std::size_t> parse_octet_count(std::string_view digits) {
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::size_t n = 0;
  for (char c : digits) n = n * 10 + static_cast<std::size_t>(c - '0');
  return n;
}

std::string format_path(const std::optional<Mailbox>& mailbox) {
  return mailbox ? "<" + mailbox->address() + ">" : "<>";
}

std::string format_reply(int code, std::string_view enhanced, std::string_view text) {
  std::string out;
  std::string prefix = std::to_string(code);
  do {
    auto nl = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(std::min(nl + 1, text.size()));
    bool last = text.empty();
    out += prefix;
    out += last ? ' ' : '-';
    if (!enhanced.empty()) {
      out += enhanced;
      out += ' ';
    }
    out += line;
    out += "\r\n";
  } while (!text.empty());
  return out;
}

std::optional<std::string> mailbox_number(std::string_view local) {
  // X.400 gateways wrap the address in slashes (RFC 3191 §2.1).
  if (local.size() >= 2 && local.front() == '/' && local.back() == '/') local = local.substr(1, local.size() - 2);
  if (ascii_istarts_with(local, "FAX=")) {
    local.remove_prefix(4);
    static constexpr std::array<std::string_view, 1> fax_qualifiers{"T33S"};
    if (!strip_qualifiers(local, fax_qualifiers)) return std::nullopt;
  } else if (ascii_istarts_with(local, "VPIM=")) {
    local.remove_prefix(5);
    static constexpr std::array<std::string_view, 1> vpim_qualifiers{"EXT"};
    if (!strip_qualifiers(local, vpim_qualifiers)) return std::nullopt;
  }
  // "+international+extension" (RFC 3801 §4.1): the extension is not a mailbox of its own here.
  if (!local.empty() && local.front() == '+') {
    auto second_plus = local.find('+', 1);
    if (second_plus != std::string_view::npos) local = local.substr(0, second_plus);
  } else {
    return std::nullopt;  // private numbering plans need a directory we do not have
  }
  return normalise_e164(local);
}

RecipientRoute route_recipient(const Mailbox& mailbox, std::span<const std::string> local_domains) {
  if (mailbox.domain.empty())
    return {ascii_iequals(mailbox.local_part, "postmaster") ? RecipientKind::Postmaster : RecipientKind::Foreign, {}};
  if (!is_local_domain(mailbox.domain, local_domains)) return {RecipientKind::Foreign, {}};
  if (ascii_iequals(mailbox.local_part, "postmaster")) return {RecipientKind::Postmaster, {}};
  if (ascii_iequals(mailbox.local_part, "non-mail-user")) return {RecipientKind::NonMailUser, {}};
  if (auto number = mailbox_number(mailbox.local_part)) return {RecipientKind::Number, std::move(*number)};
  return {RecipientKind::NotANumber, {}};
}

}  // namespace umstore::smtp
