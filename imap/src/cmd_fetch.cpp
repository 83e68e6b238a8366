// FETCH and UID FETCH.
#include <algorithm>

#include "fetch_attributes.hpp"
#include "message_structure.hpp"
#include "response_writer.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

std::string_view apply_partial(std::string_view bytes, const FetchItem& item) {
  if (!item.partial) return bytes;
  auto [origin, count] = *item.partial;
  if (origin >= bytes.size()) return {};
  return bytes.substr(static_cast<std::size_t>(origin),
                      static_cast<std::size_t>(std::min<std::uint64_t>(count, bytes.size() - origin)));
}

// True when every item is answered from the message's top-level header
// alone (the usual "list the mailbox" and "download the message" fetches).
// Then the body's MIME structure, which for a voicemail or fax means
// scanning tens of kilobytes of base64 per message, need not be parsed.
bool needs_only_top_header(const FetchRequest& request) {
  return std::all_of(request.items.begin(), request.items.end(), [](const FetchItem& item) {
    switch (item.kind) {
      case FetchItem::Kind::Flags:
      case FetchItem::Kind::Uid:
      case FetchItem::Kind::InternalDate:
      case FetchItem::Kind::Size:
        return true;
      case FetchItem::Kind::Section: {
        const Section::Text text = item.section.text;
        return item.section.part.empty() &&
               (text == Section::Text::Whole || text == Section::Text::Header ||
                text == Section::Text::HeaderFields || text == Section::Text::HeaderFieldsNot);
      }
      default:
        return false;
    }
  });
}

// The header block up to and including the empty line that ends it; the
// whole message when there is no CRLF CRLF (bare-LF mail gets the full parse).
std::string_view top_header_of(std::string_view message) {
  const auto end = message.find("\r\n\r\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 4);
}

}  // namespace

net::Task<void> Session::cmd_fetch(const Command& cmd) {
  bool uid = is_uid_command(cmd);
  if (cmd.args.size() != 2) {
    reply(cmd, "BAD", "FETCH needs a sequence set and attributes");
    co_return;
  }
  std::string error;
  auto request = parse_fetch_request(cmd.args[1], uid, error);
  bool set_ok = false;
  auto indexes = resolve_arg(cmd.args[0], uid, set_ok);
  if (!set_ok || !request) {
    reply(cmd, "BAD", set_ok ? error : "Invalid sequence set");
    co_return;
  }
  auto& sel = *selected_;
  // BODY[...] without PEEK sets \Seen first, so the FLAGS we send are current.
  std::vector<std::uint32_t> newly_seen;
  if (request->sets_seen && !sel.read_only) {
    std::vector<std::uint32_t> unseen;
    for (std::size_t i : indexes)
      if (!(sel.messages[i].flags & mailstore::kSeen)) unseen.push_back(sel.messages[i].uid);
    if (!unseen.empty())
      for (const auto& info : sel.folder->change_flags(unseen, mailstore::FlagChange::Add, mailstore::kSeen)) {
        update_message(info);
        newly_seen.push_back(info.uid);
      }
  }
  bool wants_flags = std::any_of(request->items.begin(), request->items.end(),
                                 [](const FetchItem& i) { return i.kind == FetchItem::Kind::Flags; });
  const bool header_only = needs_only_top_header(*request);
  bool some_expunged = false;
  std::string scratch;
  for (std::size_t index : indexes) {
    const mailstore::MessageInfo info = sel.messages[index];
    mailstore::MessageDataPtr data;
    std::optional<mime::Part> root;
    std::string_view bytes;
    if (request->needs_bytes) {
      data = sel.folder->open_message(info.uid);
      if (!data) {
        some_expunged = true;
        continue;
      }
      bytes = data->bytes();
      // Header views point into `bytes` either way, so sections slice it alike.
      root = mime::parse_message(header_only ? top_header_of(bytes) : bytes);
    }
    out_ += "* " + std::to_string(index + 1) + " FETCH (";
    bool first = true;
    auto item_start = [&](std::string_view label) {
      if (!first) out_ += ' ';
      first = false;
      out_ += label;
      out_ += ' ';
    };
    for (const FetchItem& item : request->items) {
      switch (item.kind) {
        case FetchItem::Kind::Flags:
          item_start("FLAGS");
          out_ += format_flags(info.flags, info.keywords, sel.recent.count(info.uid) > 0);
          break;
        case FetchItem::Kind::Uid:
          item_start("UID");
          out_ += std::to_string(info.uid);
          break;
        case FetchItem::Kind::InternalDate:
          item_start("INTERNALDATE");
          out_ += '"' + format_internal_date(info.internal_date) + '"';
          break;
        case FetchItem::Kind::Size:
          item_start("RFC822.SIZE");
          out_ += std::to_string(info.size);
          break;
        case FetchItem::Kind::Envelope:
          item_start("ENVELOPE");
          append_envelope(out_, *root, bytes);
          break;
        case FetchItem::Kind::Body:
        case FetchItem::Kind::BodyStructure:
          item_start(item.kind == FetchItem::Kind::Body ? "BODY" : "BODYSTRUCTURE");
          append_body_structure(out_, *root, bytes, item.kind == FetchItem::Kind::BodyStructure);
          break;
        case FetchItem::Kind::Section: {
          item_start(item.label);
          auto section = section_bytes(item.section, *root, bytes, scratch);
          co_await append_literal(apply_partial(section.value_or(std::string_view{}), item));
          break;
        }
      }
    }
    if (!wants_flags && std::find(newly_seen.begin(), newly_seen.end(), info.uid) != newly_seen.end()) {
      out_ += " FLAGS " + format_flags(info.flags, info.keywords, sel.recent.count(info.uid) > 0);
    }
    out_ += ")\r\n";
    if (out_.size() > 64 * 1024) co_await flush();
  }
  if (some_expunged)
    reply(cmd, "OK", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
  else
    reply(cmd, "OK", cmd.name + " completed");
}

}  // namespace umstore::imap
