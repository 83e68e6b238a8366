#include "dns/enum_lookup.hpp"

#include <algorithm>
#include <regex.h>

#include "common/ascii.hpp"
#include "naptr_pattern.hpp"

namespace umstore::dns {
namespace {

// Non-terminal rules (RFC 6116 section 3.4.1) followed at most this deep,
// so a loop in someone's zone costs a few queries, not a hang.
constexpr int kMaxHops = 4;

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

// Splits "!pattern!replacement!flags" at unescaped delimiters.
std::optional<std::vector<std::string>> split_regexp_field(std::string_view field) {
  if (field.size() < 3) return std::nullopt;
  const char delimiter = field.front();
  if (delimiter == '\\' || delimiter == 'i' || (delimiter >= '0' && delimiter <= '9')) return std::nullopt;
  std::vector<std::string> parts(1);
  for (std::size_t i = 1; i < field.size(); ++i) {
    const char c = field[i];
    if (c == '\\' && i + 1 < field.size() && field[i + 1] == delimiter) {
      parts.back() += delimiter;
      ++i;
    } else if (c == delimiter) {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  if (parts.size() != 3) return std::nullopt;  // pattern, replacement, flags
  return parts;
}

std::vector<NaptrRecord> in_processing_order(std::vector<NaptrRecord> records) {
  std::stable_sort(records.begin(), records.end(), [](const NaptrRecord& a, const NaptrRecord& b) {
    return a.order != b.order ? a.order < b.order : a.preference < b.preference;
  });
  return records;
}

bool is_terminal(const NaptrRecord& r) { return ascii_iequals(r.flags, "u"); }
bool is_non_terminal(const NaptrRecord& r) { return r.flags.empty() && !r.replacement.empty() && r.replacement != "."; }

}  // namespace

std::optional<std::string> enum_domain(std::string_view number, std::string_view tree) {
  if (number.size() < 2 || number.size() > 16 || number.front() != '+') return std::nullopt;
  std::string name;
  for (auto it = number.rbegin(); it != number.rend() - 1; ++it) {
    if (*it < '0' || *it > '9') return std::nullopt;
    name += *it;
    name += '.';
  }
  while (!tree.empty() && tree.back() == '.') tree.remove_suffix(1);
  return name + std::string(tree);
}

std::optional<std::string> apply_naptr_regexp(std::string_view field, std::string_view subject) {
  // One DNS character-string holds the field (RFC 3403): anything longer is not one.
  if (field.size() > 255) return std::nullopt;
  const auto parts = split_regexp_field(field);
  if (!parts) return std::nullopt;
  const std::string& flags = (*parts)[2];
  if (!flags.empty() && !ascii_iequals(flags, "i")) return std::nullopt;
  // POSIX EREs as RFC 3402 says, through libc's matcher: it tracks sets of
  // states instead of backtracking, so matching costs little (std::regex
  // backtracks without bound on "(a*)*b"). Compiling is what a crafted
  // pattern could make dear; is_bounded_pattern refuses those first.
  const std::string& expression = (*parts)[0];
  if (!is_bounded_pattern(expression)) return std::nullopt;
  regex_t pattern;
  if (::regcomp(&pattern, expression.c_str(), REG_EXTENDED | (flags.empty() ? 0 : REG_ICASE)) != 0)
    return std::nullopt;
  const std::string text(subject);
  regmatch_t match[10];
  const bool matched = ::regexec(&pattern, text.c_str(), 10, match, 0) == 0;
  const std::size_t groups = pattern.re_nsub + 1;
  ::regfree(&pattern);
  if (!matched) return std::nullopt;
  // RFC 3402: the replacement replaces the whole subject, not just the match.
  const std::string& replacement = (*parts)[1];
  std::string out;
  for (std::size_t i = 0; i < replacement.size(); ++i) {
    const char c = replacement[i];
    if (c != '\\' || i + 1 == replacement.size()) {
      out += c;
      continue;
    }
    const char next = replacement[++i];
    if (next >= '1' && next <= '9') {
      const auto group = static_cast<std::size_t>(next - '0');
      if (group >= groups || group >= 10) return std::nullopt;
      if (match[group].rm_so >= 0)
        out += text.substr(static_cast<std::size_t>(match[group].rm_so),
                           static_cast<std::size_t>(match[group].rm_eo - match[group].rm_so));
    } else {
      out += next;
    }
  }
  return out;
}

bool offers_service(std::string_view services, std::string_view service) {
  // "E2U+voice:sip+vpim:mailto" offers "E2U+vpim:mailto" and "E2U+voice:sip".
  constexpr std::string_view kPrefix = "E2U+";
  if (!ascii_istarts_with(services, kPrefix) || !ascii_istarts_with(service, kPrefix)) return false;
  const std::string_view wanted = service.substr(kPrefix.size());
  services.remove_prefix(kPrefix.size());
  while (!services.empty()) {
    const auto plus = services.find('+');
    if (ascii_iequals(services.substr(0, plus), wanted)) return true;
    if (plus == std::string_view::npos) break;
    services.remove_prefix(plus + 1);
  }
  return false;
}

std::optional<std::string> mailto_address(std::string_view uri) {
  constexpr std::string_view kScheme = "mailto:";
  if (!ascii_istarts_with(uri, kScheme)) return std::nullopt;
  uri.remove_prefix(kScheme.size());
  uri = uri.substr(0, uri.find('?'));  // headers (RFC 6068) are not ours to send
  std::string address;
  for (std::size_t i = 0; i < uri.size(); ++i) {
    char c = uri[i];
    if (c == '%') {
      if (i + 2 >= uri.size() || !is_hex(uri[i + 1]) || !is_hex(uri[i + 2])) return std::nullopt;
      c = static_cast<char>(hex_value(uri[i + 1]) * 16 + hex_value(uri[i + 2]));
      i += 2;
    }
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"')
      return std::nullopt;  // one plain address, nothing that could smuggle a second
    address += c;
  }
  const auto at = address.rfind('@');
  if (at == 0 || at == std::string::npos || at + 1 == address.size()) return std::nullopt;
  return address;
}

std::string_view to_string(EnumStatus status) {
  switch (status) {
    case EnumStatus::found: return "found";
    case EnumStatus::no_route: return "no route";
    case EnumStatus::temporary_failure: return "temporary failure";
  }
  return "?";
}

EnumLookup::EnumLookup(std::shared_ptr<Resolver> resolver, std::vector<std::string> trees)
    : resolver_(std::move(resolver)), trees_(std::move(trees)) {}

EnumAnswer EnumLookup::find(std::string_view number, std::string_view service) const {
  std::string temporary;  // why a tree could not be asked
  for (const auto& tree : trees_) {
    auto name = enum_domain(number, tree);
    if (!name) return {EnumStatus::no_route, {}, {}, 0, std::string(number) + " is not an E.164 number"};
    for (int hop = 0; hop <= kMaxHops && name; ++hop) {
      const auto answer = resolver_->naptr(*name);
      if (answer.status == DnsStatus::temporary_failure) {
        temporary += (temporary.empty() ? "" : "; ") + *name + ": " + answer.error;
        break;
      }
      const std::string asked = *name;
      name.reset();
      for (const auto& record : in_processing_order(answer.records)) {
        if (is_non_terminal(record)) {  // another domain holds the rest
          name = record.replacement;
          while (!name->empty() && name->back() == '.') name->pop_back();
          break;
        }
        if (!is_terminal(record) || !offers_service(record.services, service)) continue;
        if (auto uri = apply_naptr_regexp(record.regexp, number))
          return {EnumStatus::found, std::move(*uri), asked, answer.ttl, {}};
      }
    }
  }
  if (!temporary.empty()) return {EnumStatus::temporary_failure, {}, {}, 0, "ENUM lookup failed: " + temporary};
  return {EnumStatus::no_route, {}, {}, 0, "no " + std::string(service) + " record for " + std::string(number)};
}

EnumLookup::Listing EnumLookup::list(std::string_view number) const {
  Listing out;
  for (const auto& tree : trees_) {
    const auto name = enum_domain(number, tree);
    if (!name) {
      out.errors.push_back(std::string(number) + " is not an E.164 number");
      break;
    }
    const auto answer = resolver_->naptr(*name);
    if (answer.status == DnsStatus::temporary_failure) out.errors.push_back(*name + ": " + answer.error);
    for (const auto& record : in_processing_order(answer.records)) {
      std::optional<std::string> uri;
      if (is_terminal(record)) uri = apply_naptr_regexp(record.regexp, number);
      out.records.push_back({*name, record, std::move(uri)});
    }
  }
  return out;
}

}  // namespace umstore::dns
