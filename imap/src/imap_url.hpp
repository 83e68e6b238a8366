#pragma once
// IMAP URLs (RFC 5092) that name a message or a part of one, as CATENATE
// (RFC 4469) takes them: the absolute form
// imap://[user[;AUTH=...]@]host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]
// and the server-relative form that starts at "/mailbox". Search URLs
// ("?query") and URLAUTH ones name no single message and are refused.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace umstore::imap {

struct MessagePartUrl {
  std::optional<std::string> user;  // the absolute form's user, percent-decoded
  std::string mailbox;              // percent-decoded UTF-8 (RFC 5092 §3.4)
  std::optional<std::uint32_t> uid_validity;
  std::uint32_t uid = 0;
  std::string section;  // percent-decoded, as inside BODY[...]; empty: the whole message
  std::optional<std::uint64_t> partial_offset, partial_length;
};

std::optional<MessagePartUrl> parse_message_part_url(std::string_view url);

}  // namespace umstore::imap
