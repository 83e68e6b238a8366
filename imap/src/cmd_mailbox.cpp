// Mailbox commands: SELECT EXAMINE CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE
// STATUS (LIST and LSUB are in cmd_list.cpp).
#include <algorithm>

#include "common/ascii.hpp"
#include "object_id.hpp"
#include "session.hpp"
#include "store_error.hpp"

namespace umstore::imap {
namespace {

// SELECT/EXAMINE parameters (RFC 4466): CONDSTORE (RFC 7162 §3.1.8) and QRESYNC (§3.2.5).
struct SelectParameters {
  bool condstore = false;
  std::optional<QresyncParameters> qresync;
};

std::optional<std::uint32_t> parse_uid_validity(const Arg& arg) {
  const auto n = arg.kind == Arg::Kind::Atom ? parse_mod_sequence(arg.text) : std::nullopt;
  if (!n || *n == 0 || *n > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

std::optional<SequenceSet> parse_set(const Arg& arg) {
  return arg.kind == Arg::Kind::Atom ? SequenceSet::parse(arg.text) : std::nullopt;
}

// (uidvalidity mod-sequence [known-uids] [(known-sequence-set known-uid-set)])
std::optional<QresyncParameters> parse_qresync(const Arg& arg) {
  if (!arg.is_list() || arg.list.size() < 2 || arg.list.size() > 4) return std::nullopt;
  const auto& items = arg.list;
  QresyncParameters q;
  const auto validity = parse_uid_validity(items[0]);
  const auto modseq = items[1].kind == Arg::Kind::Atom ? parse_mod_sequence(items[1].text) : std::nullopt;
  if (!validity || !modseq) return std::nullopt;
  q.uid_validity = *validity;
  q.modseq = *modseq;
  std::size_t next = 2;
  if (next < items.size() && !items[next].is_list()) {
    if (!(q.known_uids = parse_set(items[next]))) return std::nullopt;
    ++next;
  }
  if (next < items.size()) {
    const Arg& match = items[next];
    if (!match.is_list() || match.list.size() != 2) return std::nullopt;
    auto numbers = parse_set(match.list[0]);
    auto uids = parse_set(match.list[1]);
    if (!numbers || !uids) return std::nullopt;
    q.seq_match.emplace(std::move(*numbers), std::move(*uids));
    ++next;
  }
  if (next != items.size()) return std::nullopt;
  return q;
}

// The parameters after the mailbox name; nullopt when malformed.
std::optional<SelectParameters> parse_select_parameters(const std::vector<Arg>& args) {
  SelectParameters parameters;
  if (args.size() == 1) return parameters;
  if (args.size() != 2 || !args[1].is_list()) return std::nullopt;
  const auto& list = args[1].list;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].is_atom("CONDSTORE")) {
      parameters.condstore = true;
    } else if (list[i].is_atom("QRESYNC") && i + 1 < list.size() && !parameters.qresync) {
      if (!(parameters.qresync = parse_qresync(list[++i]))) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  return parameters;
}

}  // namespace

net::Task<void> Session::cmd_select(const Command& cmd) {
  bool examine = cmd.name == "EXAMINE";
  std::optional<std::string> name = !cmd.args.empty() ? mailbox_arg(cmd.args[0]) : std::nullopt;
  const auto parameters = name ? parse_select_parameters(cmd.args) : std::nullopt;
  if (!parameters) {
    reply(cmd, "BAD",
          cmd.name + " needs one mailbox name and optionally (CONDSTORE) or (QRESYNC (uidvalidity modseq ...))");
    co_return;
  }
  if (parameters->qresync && !qresync_) {
    reply(cmd, "BAD", "[CLIENTBUG] QRESYNC needs ENABLE QRESYNC first");  // RFC 7162 §3.2.5
    co_return;
  }
  // RFC 7162 §3.2.11: the boundary between the old mailbox's responses and the new one's.
  if (selected_) untagged("OK [CLOSED] Previous mailbox closed");
  deselect();
  mailstore::FolderPtr folder;
  if (const auto error = store_error_of([&] { folder = user_->open(*name); })) {
    reply(cmd, "NO", *error);
    co_return;
  }
  if (parameters->condstore) condstore_ = true;  // HIGHESTMODSEQ follows with the other SELECT data
  select_folder(std::move(folder), examine);
  const auto& sel = *selected_;
  std::uint32_t first_unseen = 0;
  for (std::size_t i = 0; i < sel.messages.size() && !first_unseen; ++i)
    if (!(sel.messages[i].flags & mailstore::kSeen)) first_unseen = static_cast<std::uint32_t>(i + 1);
  send_flags_responses();
  untagged(std::to_string(sel.messages.size()) + " EXISTS");
  if (rev2_) {
    // RFC 9051 §6.3.2: the mailbox's LIST response; no RECENT or UNSEEN (Appendix E items 11, 12).
    const auto entries = user_->list();
    const auto entry = std::find_if(entries.begin(), entries.end(),
                                    [&](const mailstore::FolderEntry& e) { return e.name == sel.folder->name(); });
    if (entry != entries.end())
      untagged("LIST (" + list_attributes(*entry, false) + ") \"/\" " + mailbox_to_wire(entry->name));
  } else {
    untagged(std::to_string(sel.recent.size()) + " RECENT");
    if (first_unseen) untagged("OK [UNSEEN " + std::to_string(first_unseen) + "] First unseen");
  }
  untagged("OK [UIDVALIDITY " + std::to_string(sel.folder->uid_validity()) + "] UIDs valid");
  // Both as select_folder read them before its snapshot: no second read of
  // the folder's status. UIDNEXT is above every UID the snapshot holds; a
  // change made in between is reported again at the first catch-up, which
  // finds nothing new to say about it.
  untagged("OK [UIDNEXT " + std::to_string(sel.uid_bound()) + "] Predicted next UID");
  // Sent to every client: mod-sequences are always kept, and clients that
  // do not know the code ignore it (RFC 3501 §7.1).
  untagged("OK [HIGHESTMODSEQ " + std::to_string(sel.known_modseq) + "] Highest");
  untagged("OK [MAILBOXID (" + mailbox_object_id(sel.folder->id()) + ")] Mailbox id");  // RFC 8474 §4.2
  if (parameters->qresync) resync_selected(*parameters->qresync);
  reply(cmd, "OK", examine ? "[READ-ONLY] EXAMINE completed" : "[READ-WRITE] SELECT completed");
}

std::optional<std::string> Session::one_mailbox_or_reply(const Command& cmd) {
  auto name = cmd.args.size() == 1 ? mailbox_arg(cmd.args[0]) : std::nullopt;
  if (!name) reply(cmd, "BAD", cmd.name + " needs one mailbox name");
  return name;
}

net::Task<void> Session::cmd_create(const Command& cmd) {
  const auto name = one_mailbox_or_reply(cmd);
  if (!name) co_return;
  if (name->empty()) {
    reply(cmd, "BAD", "CREATE needs one mailbox name");
    co_return;
  }
  std::string id;
  const auto error = store_error_of([&] {
    if (*name == "INBOX") throw mailstore::FolderExists("INBOX");
    user_->create(*name);
    id = user_->open(*name)->id();
  });
  // RFC 8474 §4.1: the new mailbox's MAILBOXID in the tagged OK
  reply(cmd, error ? "NO" : "OK", error.value_or("[MAILBOXID (" + mailbox_object_id(id) + ")] CREATE completed"));
}

net::Task<void> Session::cmd_delete(const Command& cmd) {
  const auto name = one_mailbox_or_reply(cmd);
  if (!name) co_return;
  if (*name == "INBOX") {
    reply(cmd, "NO", "[CANNOT] INBOX cannot be deleted");
    co_return;
  }
  if (selected_ && selected_->folder->name() == *name) deselect();
  const auto error = store_error_of([&] { user_->remove(*name); });
  reply(cmd, error ? "NO" : "OK", error.value_or("DELETE completed"));
}

net::Task<void> Session::cmd_rename(const Command& cmd) {
  std::optional<std::string> from = cmd.args.size() == 2 ? mailbox_arg(cmd.args[0]) : std::nullopt;
  std::optional<std::string> to = cmd.args.size() == 2 ? mailbox_arg(cmd.args[1]) : std::nullopt;
  if (!from || !to || to->empty()) {
    reply(cmd, "BAD", "RENAME needs two mailbox names");
    co_return;
  }
  const auto error = store_error_of([&] { user_->rename(*from, *to); });
  reply(cmd, error ? "NO" : "OK", error.value_or("RENAME completed"));
}

net::Task<void> Session::cmd_subscribe(const Command& cmd) {
  const auto name = one_mailbox_or_reply(cmd);
  if (!name) co_return;
  const auto error = store_error_of([&] { user_->set_subscribed(*name, cmd.name == "SUBSCRIBE"); });
  reply(cmd, error ? "NO" : "OK", error.value_or(cmd.name + " completed"));
}

std::optional<std::string> Session::status_items(const mailstore::FolderStatus& st, std::string_view folder_id,
                                                 std::span<const Arg> names) {
  std::string items;
  for (const Arg& a : names) {
    std::string value;
    if (a.is_atom("MESSAGES")) value = std::to_string(st.messages);
    else if (a.is_atom("RECENT")) value = std::to_string(st.recent);
    else if (a.is_atom("UIDNEXT")) value = std::to_string(st.uid_next);
    else if (a.is_atom("UIDVALIDITY")) value = std::to_string(st.uid_validity);
    else if (a.is_atom("UNSEEN")) value = std::to_string(st.unseen);
    else if (a.is_atom("DELETED")) value = std::to_string(st.deleted);
    else if (a.is_atom("SIZE")) value = std::to_string(st.size);  // RFC 8438 STATUS=SIZE
    else if (a.is_atom("MAILBOXID")) value = "(" + mailbox_object_id(folder_id) + ")";  // RFC 8474
    else if (a.is_atom("HIGHESTMODSEQ")) {
      value = std::to_string(st.highest_modseq);
      enable_condstore();
    }
    else return std::nullopt;
    if (!items.empty()) items += ' ';
    items += ascii_upper(a.text) + " " + value;
  }
  return items;
}

net::Task<void> Session::cmd_status(const Command& cmd) {
  std::optional<std::string> name = cmd.args.size() == 2 ? mailbox_arg(cmd.args[0]) : std::nullopt;
  if (!name || !cmd.args[1].is_list() || cmd.args[1].list.empty()) {
    reply(cmd, "BAD", "STATUS needs a mailbox and a list of items");
    co_return;
  }
  mailstore::FolderPtr folder;
  if (const auto error = store_error_of([&] { folder = user_->open(*name); })) {
    reply(cmd, "NO", *error);
    co_return;
  }
  const auto items = status_items(folder->status(), folder->id(), cmd.args[1].list);
  if (!items) {
    reply(cmd, "BAD", "Unknown STATUS item");
    co_return;
  }
  untagged("STATUS " + mailbox_to_wire(folder->name()) + " (" + *items + ")");
  reply(cmd, "OK", "STATUS completed");
}

}  // namespace umstore::imap
