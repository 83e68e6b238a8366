// FETCH and UID FETCH.
#include <algorithm>
#include <utility>

#include "fetch_attributes.hpp"
#include "fetch_cache.hpp"
#include "mime/imap_structure.hpp"
#include "object_id.hpp"
#include "response_writer.hpp"
#include "search_query.hpp"
#include "session.hpp"

namespace umstore::imap {
namespace {

// RFC 3501 §9: a plain literal holds no NUL. Content appended as literal8
// keeps its NULs for BINARY; BODY sends them as 0x80, as Dovecot does.
std::string_view without_nul(std::string_view bytes, std::string& storage) {
  if (bytes.find('\0') == std::string_view::npos) return bytes;
  storage.assign(bytes);
  std::replace(storage.begin(), storage.end(), '\0', '\x80');
  return storage;
}

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
      case FetchItem::Kind::SaveDate:
      case FetchItem::Kind::Size:
      case FetchItem::Kind::Modseq:
      case FetchItem::Kind::EmailId:  // the octets, not their structure
      case FetchItem::Kind::ThreadId:
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

bool is_top_header_section(const FetchItem& item) {
  const Section::Text text = item.section.text;
  return item.kind == FetchItem::Kind::Section && item.section.part.empty() &&
         (text == Section::Text::Header || text == Section::Text::HeaderFields ||
          text == Section::Text::HeaderFieldsNot);
}

// True when the FetchCache can answer every item: ENVELOPE, BODY,
// BODYSTRUCTURE and the top-level header sections (what a client lists a
// folder with), next to what the index has anyway.
bool answerable_from_cache(const FetchRequest& request) {
  return std::all_of(request.items.begin(), request.items.end(), [](const FetchItem& item) {
    switch (item.kind) {
      case FetchItem::Kind::Section:
        return is_top_header_section(item);
      case FetchItem::Kind::Binary:
      case FetchItem::Kind::BinarySize:
      case FetchItem::Kind::EmailId:  // a digest of the whole message
        return false;
      default:
        return true;
    }
  });
}

// Metadata asked of the store in one call when the cache lacks a message's:
// that one and the next ones the cache lacks, so a FETCH 1:* after a
// restart costs a round trip per batch, not per message, on a database.
// Bounded by the messages' sizes too: metadata is a few KB, but the header
// of a message without an empty line is the whole message.
constexpr std::size_t kMetadataBatch = 256;
constexpr std::uint64_t kMetadataBatchBytes = 16u << 20;

bool has_unknown_encoding(const FetchRequest& request, const mime::Part& root, std::string_view bytes) {
  std::string scratch;
  std::string_view ignored;
  return std::any_of(request.items.begin(), request.items.end(), [&](const FetchItem& item) {
    return (item.kind == FetchItem::Kind::Binary || item.kind == FetchItem::Kind::BinarySize) &&
           binary_section(item.section, root, bytes, scratch, ignored, false) == BinaryStatus::UnknownEncoding;
  });
}

}  // namespace

net::Task<void> Session::cmd_fetch(const Command& cmd) {
  bool uid = is_uid_command(cmd);
  // FETCH set attributes [(CHANGEDSINCE n)], UID FETCH also [(CHANGEDSINCE n VANISHED)] (RFC 7162 §3.1.4.1, §3.2.6)
  std::optional<std::uint64_t> changed_since;
  std::optional<PartialRange> partial;  // RFC 9394 §3.3, UID FETCH only
  bool vanished = false;
  if (cmd.args.size() == 3) {
    const auto& modifiers = cmd.args[2];
    bool valid = modifiers.is_list();
    for (std::size_t i = 0; valid && i < modifiers.list.size(); ++i) {
      const Arg& m = modifiers.list[i];
      if (m.is_atom("CHANGEDSINCE") && !changed_since && i + 1 < modifiers.list.size() &&
          modifiers.list[i + 1].kind == Arg::Kind::Atom)
        valid = (changed_since = parse_mod_sequence(modifiers.list[++i].text)).has_value();
      else if (m.is_atom("VANISHED") && !vanished)
        vanished = true;
      else if (m.is_atom("PARTIAL") && uid && !partial && i + 1 < modifiers.list.size() &&
               modifiers.list[i + 1].kind == Arg::Kind::Atom)
        valid = (partial = parse_partial_range(modifiers.list[++i].text)).has_value();
      else
        valid = false;
    }
    if (!valid || (!changed_since && !partial) || (vanished && !changed_since)) {
      reply(cmd, "BAD",
            "FETCH modifiers are CHANGEDSINCE mod-sequence and, with UID FETCH, VANISHED and PARTIAL range");
      co_return;
    }
    if (vanished && (!uid || !qresync_)) {
      reply(cmd, "BAD", uid ? "[CLIENTBUG] VANISHED needs ENABLE QRESYNC first" : "VANISHED needs UID FETCH");
      co_return;
    }
  }
  if (cmd.args.size() != 2 && !changed_since && !partial) {
    reply(cmd, "BAD", "FETCH needs a sequence set and attributes");
    co_return;
  }
  auto parsed = parse_fetch_request(cmd.args[1], uid);
  auto* request = std::get_if<FetchRequest>(&parsed);
  auto indexes = resolve_arg(cmd.args[0], uid);
  if (!indexes || !request) {
    reply(cmd, "BAD", indexes ? std::get<FetchSyntaxError>(parsed).text : "Invalid sequence set");
    co_return;
  }
  auto& sel = *selected_;
  if (partial) {  // the range of the set first, then CHANGEDSINCE within it (RFC 9394 §3.4)
    const auto [begin, end] = partial->slice(indexes->size());
    *indexes = std::vector<std::size_t>(indexes->begin() + static_cast<std::ptrdiff_t>(begin),
                                        indexes->begin() + static_cast<std::ptrdiff_t>(end));
  }
  const bool wants_modseq = std::any_of(request->items.begin(), request->items.end(),
                                        [](const FetchItem& i) { return i.kind == FetchItem::Kind::Modseq; });
  if (changed_since) {
    std::erase_if(*indexes, [&](std::size_t i) { return sel.messages[i].modseq <= *changed_since; });
    if (!wants_modseq) {
      FetchItem modseq;
      modseq.kind = FetchItem::Kind::Modseq;
      modseq.label = "MODSEQ";
      request->items.push_back(std::move(modseq));
    }
  }
  if (changed_since || wants_modseq) enable_condstore();
  if (vanished) {
    // Before any FETCH response, so the client maps numbers to UIDs right (§3.2.6).
    const auto uids = *sequence_set_arg(cmd.args[0]);
    co_await in_store([&] { send_vanished_earlier(uids, *changed_since); });
  }
  // BODY[...] without PEEK sets \Seen first, so the FLAGS we send are current.
  std::vector<std::uint32_t> newly_seen;
  if (request->sets_seen && !sel.read_only) {
    std::vector<std::uint32_t> unseen;
    for (std::size_t i : *indexes)
      if (!(sel.messages[i].flags & mailstore::kSeen)) unseen.push_back(sel.messages[i].uid);
    if (!unseen.empty()) {
      const auto changed = co_await in_store(
          [&] { return sel.folder->change_flags(unseen, mailstore::FlagChange::Add, mailstore::kSeen); });
      for (const auto& info : changed) {
        update_message(info);
        newly_seen.push_back(info.uid);
      }
      announce_keywords(changed);  // another session's keyword may come along
    }
  }
  const FetchEnd end = co_await fetch_responses(*request, *indexes, newly_seen);
  switch (end) {
    case FetchEnd::UnknownCte:
      reply(cmd, "NO", "[UNKNOWN-CTE] Cannot decode the part's Content-Transfer-Encoding");
      break;
    case FetchEnd::SomeExpunged: reply(cmd, "OK", "[EXPUNGEISSUED] Some messages were expunged meanwhile"); break;
    case FetchEnd::Done: reply(cmd, "OK", cmd.name + " completed"); break;
  }
}

net::Task<Session::FetchEnd> Session::fetch_responses(const FetchRequest& request,
                                                      const std::vector<std::size_t>& indexes,
                                                      const std::vector<std::uint32_t>& newly_seen) {
  auto& sel = *selected_;
  const auto wants = [&request](FetchItem::Kind kind) {
    return std::any_of(request.items.begin(), request.items.end(), [kind](const FetchItem& i) { return i.kind == kind; });
  };
  const bool wants_flags = wants(FetchItem::Kind::Flags);
  const bool wants_modseq = wants(FetchItem::Kind::Modseq);  // CHANGEDSINCE adds it too
  const bool header_only = needs_only_top_header(request);
  FetchCache* const cache = request.needs_bytes && answerable_from_cache(request) ? ctx_.fetch_cache : nullptr;
  const std::uint32_t uid_validity = cache ? sel.folder->uid_validity() : 0;
  bool some_expunged = false;
  std::string scratch;
  std::string nul_free;  // a section with its NULs replaced
  for (std::size_t pos = 0; pos < indexes.size(); ++pos) {
    const std::size_t index = indexes[pos];
    const mailstore::MessageInfo info = sel.messages[index];
    mailstore::MessageDataPtr data;
    std::optional<mime::Part> root;
    std::string_view bytes;
    CachedMessagePtr cached;
    if (cache) {
      cached = cache->find(*sel.folder, uid_validity, info.uid);
      if (!cached) {
        std::vector<std::uint32_t> batch{info.uid};
        std::uint64_t batch_bytes = info.size;
        for (std::size_t p = pos + 1; p < indexes.size() && batch.size() < kMetadataBatch; ++p) {
          const mailstore::MessageInfo& next = sel.messages[indexes[p]];
          if (cache->find(*sel.folder, uid_validity, next.uid)) continue;
          if ((batch_bytes += next.size) > kMetadataBatchBytes) break;
          batch.push_back(next.uid);
        }
        std::sort(batch.begin(), batch.end());
        auto found = co_await in_store([&] { return sel.folder->metadata(batch); });
        for (auto& [stored_uid, metadata] : found) {
          auto entry = std::make_shared<const mailstore::MessageMetadata>(std::move(metadata));
          if (stored_uid == info.uid) cached = entry;
          cache->store(*sel.folder, uid_validity, stored_uid, std::move(entry));
        }
        if (!cached) {
          cache->forget(*sel.folder, info.uid);
          some_expunged = true;
          continue;
        }
      }
    }
    if (cached) {
      // Header sections slice the cached header block exactly as they would
      // slice the message: the block is the message's first bytes.
      bytes = cached->header;
      if (std::any_of(request.items.begin(), request.items.end(), is_top_header_section))
        root = mime::parse_message(bytes);
    } else if (request.needs_bytes) {
      if (!data) data = co_await in_store([&] { return sel.folder->open_message(info.uid); });
      if (!data) {
        some_expunged = true;
        continue;
      }
      bytes = data->bytes();
      // Header views point into `bytes` either way, so sections slice it alike.
      root = mime::parse_message(header_only ? mime::header_block(bytes) : bytes);
    }
    // RFC 3516: an encoding the server cannot undo fails the whole FETCH.
    if (request.has_binary && has_unknown_encoding(request, *root, bytes)) {
      co_return FetchEnd::UnknownCte;
    }
    out_ += "* " + std::to_string(index + 1) + " FETCH (";
    bool first = true;
    for (const FetchItem& item : request.items) {
      if (!std::exchange(first, false)) out_ += ' ';
      out_ += item.label;  // the name the request used, as the answer gives it
      out_ += ' ';
      switch (item.kind) {
        case FetchItem::Kind::Flags:
          out_ += format_flags(info.flags, info.keywords, shows_recent(info.uid));
          break;
        case FetchItem::Kind::Uid: out_ += std::to_string(info.uid); break;
        case FetchItem::Kind::InternalDate: out_ += '"' + format_internal_date(info.internal_date) + '"'; break;
        // RFC 8514 §4: every message here has a save date (the internal date for older ones), never NIL
        case FetchItem::Kind::SaveDate: out_ += '"' + format_internal_date(info.save_date) + '"'; break;
        case FetchItem::Kind::Size: out_ += std::to_string(info.size); break;
        case FetchItem::Kind::Modseq: out_ += "(" + std::to_string(info.modseq) + ")"; break;
        case FetchItem::Kind::EmailId: out_ += "(" + email_object_id(bytes) + ")"; break;
        case FetchItem::Kind::ThreadId: out_ += "NIL"; break;  // RFC 8474 §5.2: no THREADID kept
        case FetchItem::Kind::Envelope:
          if (cached)
            out_ += cached->envelope;
          else
            mime::append_envelope(out_, *root, bytes);
          break;
        case FetchItem::Kind::Body:
        case FetchItem::Kind::BodyStructure:
          if (cached)
            out_ += item.kind == FetchItem::Kind::Body ? cached->body : cached->body_structure;
          else
            mime::append_body_structure(out_, *root, bytes, item.kind == FetchItem::Kind::BodyStructure);
          break;
        case FetchItem::Kind::Section: {
          auto section = section_bytes(item.section, *root, bytes, scratch);
          co_await append_literal(without_nul(apply_partial(section.value_or(std::string_view{}), item), nul_free));
          break;
        }
        case FetchItem::Kind::Binary:
        case FetchItem::Kind::BinarySize: {
          std::string_view decoded;
          const bool found = binary_section(item.section, *root, bytes, scratch, decoded) == BinaryStatus::Ok;
          if (item.kind == FetchItem::Kind::BinarySize) {
            out_ += std::to_string(decoded.size());
          } else if (!found) {
            out_ += "NIL";
          } else {
            const auto part = apply_partial(decoded, item);
            if (part.find('\0') != std::string_view::npos) out_ += '~';  // literal8
            co_await append_literal(part);
          }
          break;
        }
      }
    }
    if (std::find(newly_seen.begin(), newly_seen.end(), info.uid) != newly_seen.end()) {
      if (!wants_flags) out_ += " FLAGS " + format_flags(info.flags, info.keywords, shows_recent(info.uid));
      // RFC 7162 §3.1: CONDSTORE-aware clients get MODSEQ with every flag change.
      if (condstore_ && !wants_modseq) out_ += " MODSEQ (" + std::to_string(info.modseq) + ")";
    }
    out_ += ")\r\n";
    if (out_.size() > 64 * 1024) co_await flush();
  }
  co_return some_expunged ? FetchEnd::SomeExpunged : FetchEnd::Done;
}

}  // namespace umstore::imap
