#include "imap_url.hpp"

#include "common/ascii.hpp"
#include "common/parse_number.hpp"

namespace umstore::imap {
namespace {

// RFC 3986 percent-decoding, strict: a '%' not followed by two hex digits
// makes the URL invalid (BADURL) rather than standing for itself.
std::optional<std::string> percent_decoded(std::string_view text) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    const char lower = static_cast<char>(c | 0x20);
    return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex(text[i + 1]), low = hex(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

// Finds a "/;NAME=" parameter (names are case-insensitive) and returns what
// follows it, cutting `rest` there.
std::optional<std::string_view> take_parameter(std::string_view& rest, std::string_view name) {
  const std::string marker = "/;" + std::string(name) + "=";
  for (std::size_t at = rest.find("/;"); at != std::string_view::npos; at = rest.find("/;", at + 1)) {
    if (!ascii_istarts_with(rest.substr(at), marker)) continue;
    const std::string_view value = rest.substr(at + marker.size());
    rest = rest.substr(0, at);
    return value;
  }
  return std::nullopt;
}

}  // namespace

std::optional<MessagePartUrl> parse_message_part_url(std::string_view url) {
  MessagePartUrl out;
  std::string_view path = url;
  if (ascii_istarts_with(url, "imap://")) {
    const auto authority_end = url.find('/', 7);
    if (authority_end == std::string_view::npos) return std::nullopt;
    const std::string_view authority = url.substr(7, authority_end - 7);
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
      const std::string_view userinfo = authority.substr(0, at);
      out.user = percent_decoded(userinfo.substr(0, userinfo.find(';')));  // ";AUTH=..." is how, not who
      if (!out.user || out.user->empty()) return std::nullopt;
    }
    path = url.substr(authority_end);
  }
  if (path.empty() || path.front() != '/' || path.find('?') != std::string_view::npos ||
      ascii_lower(path).find(";urlauth=") != std::string::npos)
    return std::nullopt;
  // From the end: PARTIAL, SECTION, UID; what is left is the mailbox reference.
  if (const auto partial = take_parameter(path, "PARTIAL")) {
    const auto dot = partial->find('.');
    out.partial_offset = parse_number<std::uint64_t>(partial->substr(0, dot));
    if (!out.partial_offset) return std::nullopt;
    if (dot != std::string_view::npos) {
      out.partial_length = parse_number<std::uint64_t>(partial->substr(dot + 1));
      if (!out.partial_length || *out.partial_length == 0) return std::nullopt;
    }
  }
  if (const auto section = take_parameter(path, "SECTION")) {
    auto decoded = percent_decoded(*section);
    if (!decoded || decoded->empty()) return std::nullopt;
    out.section = std::move(*decoded);
  }
  const auto uid = take_parameter(path, "UID");
  const auto uid_number = uid ? parse_number<std::uint32_t>(*uid) : std::nullopt;
  if (!uid_number || *uid_number == 0) return std::nullopt;
  out.uid = *uid_number;
  std::string_view mailbox = path.substr(1);
  if (const auto semicolon = mailbox.find(';'); semicolon != std::string_view::npos) {
    const std::string_view parameter = mailbox.substr(semicolon);
    if (!ascii_istarts_with(parameter, ";UIDVALIDITY=")) return std::nullopt;
    out.uid_validity = parse_number<std::uint32_t>(parameter.substr(13));
    if (!out.uid_validity || *out.uid_validity == 0) return std::nullopt;
    mailbox = mailbox.substr(0, semicolon);
  }
  auto name = percent_decoded(mailbox);
  if (!name || name->empty()) return std::nullopt;
  out.mailbox = std::move(*name);
  return out;
}

}  // namespace umstore::imap
