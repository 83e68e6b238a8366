// APPEND with flags, date-time and [APPENDUID] (RFC 4315), several messages
// in one command (MULTIAPPEND, RFC 3502: all of them or none), messages
// built from literals and parts of stored messages (CATENATE, RFC 4469).
#include <algorithm>
#include <variant>

#include "fetch_attributes.hpp"
#include "imap_url.hpp"
#include "net/memory_budget.hpp"
#include "response_writer.hpp"
#include "sequence_set.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

// A CATENATE part: TEXT literal octets, or a URL naming (part of) a stored message.
struct CatenatePart {
  bool url = false;
  std::string_view text;
};

struct AppendMessage {
  std::pair<mailstore::Flags, std::vector<std::string>> flags;
  std::optional<std::int64_t> date;
  std::string_view bytes;  // stored as sent, bare LF included, so BODY[] gives it back (RFC 3501 §6.3.11)
  std::vector<CatenatePart> catenate;  // when non-empty, `bytes` is built from these
  std::string catenated;               // what `bytes` then views
};

const char* const kNulInLiteral = "NUL octet in a literal: send binary content as literal8 (~{n})";  // RFC 3501 §9 CHAR8

// RFC 4469 §5: CATENATE (TEXT literal / URL url ...); the BAD text otherwise.
std::variant<std::vector<CatenatePart>, std::string> parse_catenate(const std::vector<Arg>& list) {
  std::vector<CatenatePart> out;
  for (std::size_t i = 0; i < list.size(); i += 2) {
    const bool text = list[i].is_atom("TEXT"), url = list[i].is_atom("URL");
    if ((!text && !url) || i + 1 == list.size()) return std::string("CATENATE needs TEXT literal and URL url parts");
    const Arg& value = list[i + 1];
    if (text && (value.kind != Arg::Kind::String || !value.literal))
      return std::string("CATENATE TEXT needs a literal");
    if (url && !value.is_astring()) return std::string("CATENATE URL needs a URL");
    if (text && !value.literal8 && value.text.find('\0') != std::string_view::npos) return std::string(kNulInLiteral);
    out.push_back({url, value.text});
  }
  if (out.empty()) return std::string("CATENATE needs at least one part");
  return out;
}

// "[flags] [date-time] literal" groups after the mailbox name; the error
// text for a tagged BAD otherwise.
std::variant<std::vector<AppendMessage>, std::string> parse_messages(std::span<const Arg> args, bool utf8) {
  std::vector<AppendMessage> out;
  std::size_t at = 0;
  while (at < args.size()) {
    AppendMessage m;
    if (args[at].is_list()) {
      auto parsed = parse_flag_list(args.subspan(at, 1));
      if (!parsed) return std::string("Invalid flag");
      m.flags = std::move(*parsed);
      ++at;
    }
    if (at + 1 < args.size() && args[at].kind == Arg::Kind::String && !args[at].literal &&
        (args[at + 1].kind == Arg::Kind::String || args[at + 1].is_atom("UTF8") || args[at + 1].is_atom("CATENATE"))) {
      m.date = parse_date_time(args[at].text);
      if (!m.date) return std::string("Invalid date-time");
      ++at;
    }
    const auto missing = std::string("APPEND needs a mailbox and, per message, optional flags and date and a literal");
    if (at >= args.size()) return missing;
    if (args[at].is_atom("CATENATE") && at + 1 < args.size() && args[at + 1].is_list()) {
      auto parts = parse_catenate(args[at + 1].list);
      if (auto* error = std::get_if<std::string>(&parts)) return std::move(*error);
      m.catenate = std::move(std::get<std::vector<CatenatePart>>(parts));
      at += 2;
      out.push_back(std::move(m));
      continue;
    }
    // RFC 6855 §4: UTF8 (~{n}...) carries a message with UTF-8 headers
    const bool utf8_data = utf8 && at + 1 < args.size() && args[at].is_atom("UTF8") && args[at + 1].is_list() &&
                           args[at + 1].list.size() == 1 && args[at + 1].list[0].literal8;
    if (utf8_data) ++at;
    const Arg& literal = utf8_data ? args[at].list.front() : args[at];
    if (literal.kind != Arg::Kind::String) return missing;
    m.bytes = literal.text;
    if (!literal.literal8 && m.bytes.find('\0') != std::string_view::npos) return std::string(kNulInLiteral);
    ++at;
    out.push_back(std::move(m));
  }
  if (out.empty()) return std::string("APPEND needs a message literal");
  return out;
}

// The octets an IMAP URL names in the user's own mailboxes (RFC 4469 §5:
// same-user URLs), appended to `out`; false when it names nothing readable.
bool append_url_part(mailstore::UserMailbox& user, std::string_view url_text, std::string& out) {
  const auto url = parse_message_part_url(url_text);
  if (!url || (url->user && *url->user != user.number())) return false;
  mailstore::FolderPtr folder;
  try {
    folder = user.open(url->mailbox);
  } catch (const mailstore::FolderNotFound&) {
    return false;
  } catch (const mailstore::InvalidFolderName&) {
    return false;
  }
  if (url->uid_validity && *url->uid_validity != folder->uid_validity()) return false;
  const auto data = folder->open_message(url->uid);
  if (!data) return false;
  std::string_view bytes = data->bytes();
  std::string scratch;
  if (!url->section.empty()) {  // the section as FETCH BODY[...] reads it
    std::deque<std::string> storage;
    const std::string item = "BODY.PEEK[" + url->section + "]";
    const auto parsed = parse_arguments(item, storage);
    if (!parsed.args || parsed.args->size() != 1) return false;
    const auto request = parse_fetch_request(parsed.args->front(), false);
    const auto* fetch = std::get_if<FetchRequest>(&request);
    if (!fetch || fetch->items.size() != 1 || fetch->items[0].kind != FetchItem::Kind::Section) return false;
    const auto root = mime::parse_message(bytes);
    const auto part = section_bytes(fetch->items[0].section, root, bytes, scratch);
    if (!part) return false;
    bytes = *part;
  }
  if (url->partial_offset) {
    if (*url->partial_offset > bytes.size()) return false;
    bytes = bytes.substr(*url->partial_offset, url->partial_length.value_or(std::string_view::npos));
  }
  out.append(bytes);
  return true;
}

// A URL as a response code may carry it: no ']', CR or LF (RFC 4469 §6 url-resp-text).
std::string url_resp_text(std::string_view url) {
  std::string out;
  for (const char c : url)
    if (c != ']' && c != '\r' && c != '\n' && c != '\0' && static_cast<unsigned char>(c) < 0x80) out += c;
  return out;
}

}  // namespace

net::Task<void> Session::cmd_append(const Command& cmd) {
  const auto& args = cmd.args;
  std::optional<std::string> name = args.size() >= 2 ? mailbox_arg(args[0]) : std::nullopt;
  auto parsed = name ? parse_messages(std::span<const Arg>(args).subspan(1), utf8_)
                     : std::variant<std::vector<AppendMessage>, std::string>(std::string("APPEND needs a mailbox"));
  if (auto* error = std::get_if<std::string>(&parsed)) {
    reply(cmd, "BAD", *error);
    co_return;
  }
  auto& messages = std::get<std::vector<AppendMessage>>(parsed);
  // What CATENATE builds from stored messages costs the client a few bytes
  // of URL each: it is held against the literal budget all sessions share,
  // as literals are, so a MULTIAPPEND of many large copies cannot grow memory.
  net::MemoryReservation catenated(ctx_.literal_budget);
  std::size_t catenated_total = 0;
  for (auto& m : messages) {  // CATENATE: every part is read before anything is stored
    for (const auto& part : m.catenate) {
      const std::size_t before = m.catenated.size();
      if (!part.url) m.catenated.append(part.text);
      else if (!append_url_part(*user_, part.text, m.catenated)) {
        reply(cmd, "NO", "[BADURL " + url_resp_text(part.text) + "] CATENATE URL names no message part of yours");
        co_return;
      }
      if (m.catenated.size() > ctx_.config.max_literal_bytes) {
        reply(cmd, "NO", "[TOOBIG] CATENATE message larger than " + std::to_string(ctx_.config.max_literal_bytes) +
                             " octets");
        co_return;
      }
      catenated_total += m.catenated.size() - before;
      if (!catenated.cover(catenated_total)) {
        reply(cmd, "NO", "[LIMIT] The server holds too much client data; try again later");
        co_return;
      }
    }
    if (!m.catenate.empty()) m.bytes = m.catenated;
  }
  if (std::any_of(messages.begin(), messages.end(), [](const AppendMessage& m) { return m.bytes.empty(); })) {
    reply(cmd, "NO", "Empty message");
    co_return;
  }
  mailstore::FolderPtr folder;
  std::vector<std::uint32_t> uids;
  try {
    folder = user_->open(*name);
    for (const auto& m : messages) uids.push_back(folder->append(m.bytes, m.flags.first, m.flags.second, m.date));
    reply(cmd, "OK", "[APPENDUID " + std::to_string(folder->uid_validity()) + " " + format_uid_set(uids) +
                         "] APPEND completed");
    co_return;
  } catch (const mailstore::FolderNotFound&) {
    reply(cmd, "NO", "[TRYCREATE] No such mailbox");
  } catch (const mailstore::InvalidFolderName&) {
    reply(cmd, "NO", "[CANNOT] Invalid mailbox name");
  } catch (const mailstore::QuotaExceeded&) {
    reply(cmd, "NO", "[OVERQUOTA] Mailbox is full");
  }
  // RFC 3502 §6.3.11: a failed MULTIAPPEND leaves none of its messages behind
  if (folder && !uids.empty()) {
    folder->change_flags(uids, mailstore::FlagChange::Add, mailstore::kDeleted);
    folder->expunge(uids);
  }
}

}  // namespace umstore::imap
