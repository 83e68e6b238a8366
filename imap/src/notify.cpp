// NOTIFY (RFC 5465): the client says once which mailboxes and events it
// wants to hear of, and the session tells it as they happen, between
// commands as well as in IDLE, without being asked.
//
// The selected mailbox's changes are the usual EXISTS, EXPUNGE (VANISHED)
// and FETCH responses, pushed when the folder's listener wakes the session;
// with "selected-delayed" expunges still wait for a command that allows
// them. Other mailboxes are watched through their folders' listeners too
// (STATUS when their counts or flags change) and through the mailbox's
// folder-list listener (LIST on create, delete, rename and subscription
// changes). Folder-list changes made by other processes or nodes are not
// heard, so the list is also looked at every kNamesLook.
#include <algorithm>

#include "response_writer.hpp"
#include "session.hpp"
#include "store_error.hpp"

namespace umstore::imap {
namespace {

constexpr auto kFolderPoll = std::chrono::milliseconds(800);  // as IDLE's, for folders no listener hears
constexpr auto kNamesLook = std::chrono::seconds(5);
// RFC 5465 §8: a server may refuse to watch more than it can afford.
constexpr std::size_t kMaxWatched = 500;

const mailstore::FolderEntry* find_entry(const std::vector<mailstore::FolderEntry>& entries, std::string_view name) {
  const auto it = std::find_if(entries.begin(), entries.end(),
                               [name](const mailstore::FolderEntry& e) { return e.name == name; });
  return it == entries.end() ? nullptr : &*it;
}

}  // namespace

net::Task<void> Session::cmd_notify(const Command& cmd) {
  if (cmd.args.size() == 1 && cmd.args[0].is_atom("NONE")) {
    notify_.reset();
    reply(cmd, "OK", "NOTIFY completed");
    co_return;
  }
  if (cmd.args.empty() || !cmd.args[0].is_atom("SET")) {
    reply(cmd, "BAD", "NOTIFY SET [STATUS] (filter events)... or NOTIFY NONE");
    co_return;
  }
  auto parsed = parse_notify_set(std::span(cmd.args).subspan(1), [this](const Arg& a) { return mailbox_arg(a); });
  if (const auto* refusal = std::get_if<NotifyRefusal>(&parsed)) {
    if (refusal->kind == NotifyRefusal::Kind::BadEvent)
      reply(cmd, "NO", "[BADEVENT " + refusal->text + "] Unsupported NOTIFY event");
    else
      reply(cmd, "BAD", refusal->text);
    co_return;
  }
  auto state = std::make_unique<NotifyState>();
  state->spec = std::move(std::get<NotifySpec>(parsed));
  if (state->spec.watches_names()) {
    state->entries = user_->list();
    const auto& spec = state->spec;
    const auto covered = std::count_if(state->entries.begin(), state->entries.end(),
                                       [&spec](const mailstore::FolderEntry& e) { return spec.events_for(e) != 0; });
    if (static_cast<std::size_t>(covered) > kMaxWatched) {
      reply(cmd, "NO", "[NOTIFICATIONOVERFLOW] NOTIFY covers more than " + std::to_string(kMaxWatched) + " mailboxes");
      co_return;
    }
    state->names_looked_at = std::chrono::steady_clock::now();
    state->names_listener = user_->listen_to_names([flag = state->names_changed, wake = wake_on_change()] {
      *flag = true;
      wake();
    });
  }
  notify_ = std::move(state);
  watch_covered_folders();
  if (notify_->spec.send_status) {
    // RFC 5465 §3: the STATUS of every mailbox the filters name, before the OK.
    for (const auto& [name, watched] : notify_->watched) {
      if (!(watched.events & kMessageEvents) || (selected_ && selected_->folder->name() == name)) continue;
      std::string items = "MESSAGES " + std::to_string(watched.status.messages) +
                          " UIDNEXT " + std::to_string(watched.status.uid_next) +
                          " UIDVALIDITY " + std::to_string(watched.status.uid_validity) +
                          " UNSEEN " + std::to_string(watched.status.unseen);
      if (condstore_) items += " HIGHESTMODSEQ " + std::to_string(watched.status.highest_modseq);
      untagged("STATUS " + mailbox_to_wire(name) + " (" + items + ")");
    }
  }
  reply(cmd, "OK", "NOTIFY completed");
}

void Session::watch_covered_folders() {
  auto& n = *notify_;
  std::map<std::string, WatchedFolder> watched;
  n.polls_folders = false;
  for (const auto& entry : n.entries) {
    const unsigned events = n.spec.events_for(entry);
    if (events & kMailboxName) {
      if (!n.uid_validity.contains(entry.name)) {
        mailstore::FolderPtr folder;
        if (!store_error_of([&] { folder = user_->open(entry.name); })) n.uid_validity[entry.name] = folder->uid_validity();
      }
    }
    if (!(events & kMessageEvents)) continue;
    if (auto kept = n.watched.find(entry.name); kept != n.watched.end()) {
      kept->second.events = events;
      n.polls_folders = n.polls_folders || !kept->second.folder->listeners_hear_everyone();
      watched.insert(n.watched.extract(kept));
      continue;
    }
    WatchedFolder w;
    if (store_error_of([&] { w.folder = user_->open(entry.name); })) continue;  // gone meanwhile
    w.events = events;
    w.known_counter = w.folder->change_counter();
    w.status = w.folder->status();
    w.listener = w.folder->listen(wake_on_change());
    n.polls_folders = n.polls_folders || !w.folder->listeners_hear_everyone();
    watched.emplace(entry.name, std::move(w));
  }
  n.watched = std::move(watched);
  std::erase_if(n.uid_validity, [&n](const auto& kv) { return !find_entry(n.entries, kv.first); });
}

std::chrono::steady_clock::time_point Session::next_look() const {
  const auto now = std::chrono::steady_clock::now();
  auto next = std::chrono::steady_clock::time_point::max();
  if (selected_ && !selected_->hears_everyone) next = now + kFolderPoll;
  if (notify_ && notify_->polls_folders) next = std::min(next, now + kFolderPoll);
  if (notify_ && notify_->spec.watches_names()) next = std::min(next, notify_->names_looked_at + kNamesLook);
  return next;
}

net::Task<bool> Session::wait_for_command() {
  auto done = std::make_shared<bool>(false);
  auto got = std::make_shared<bool>(false);
  // The one outstanding read; writes meanwhile come from this coroutine only.
  asio::co_spawn(
      conn_.executor(),
      [self = shared_from_this(), done, got]() -> net::Task<void> {
        const auto input = co_await self->conn_.peek(true);
        *got = !input.empty();
        *done = true;
        self->notifier_->timer.cancel();
      },
      asio::detached);
  co_await push_changes_until(done, false);
  co_return *got;
}

net::Task<void> Session::push_changes_until(std::shared_ptr<bool> done, bool idling) {
  bool poll_due = false;
  for (;;) {
    if (notifier_->changed || poll_due) co_await push_changes(idling, poll_due);
    if (*done || !conn_.is_open()) co_return;
    if (!notifier_->changed) {
      notifier_->timer.expires_at(next_look());
      const auto woke = co_await notifier_->timer.async_wait(net::use_nothrow);
      poll_due = !std::get<0>(woke);  // expired, not cancelled
    }
  }
}

net::Task<void> Session::push_changes(bool idling, bool poll_due) {
  const unsigned selected_events = notify_ ? notify_->spec.selected_events : 0;
  const bool push_selected = idling || (selected_events & kMessageNew);
  const std::size_t before = selected_ ? selected_->messages.size() : 0;
  std::size_t first_added = before;
  co_await in_store([&] {
    notifier_->changed = false;
    if (push_selected && selected_)
      first_added = report_changes(idling || !notify_->spec.selected_delayed, idling || (selected_events & kFlagChange));
    if (notify_) report_other_mailboxes(poll_due);
  });
  // MessageNew (fetch-att ...): the new messages' attributes after their EXISTS.
  if (notify_ && notify_->spec.new_message_fetch && selected_ && first_added < selected_->messages.size()) {
    std::vector<std::size_t> added(selected_->messages.size() - first_added);
    for (std::size_t i = 0; i < added.size(); ++i) added[i] = first_added + i;
    co_await fetch_responses(*notify_->spec.new_message_fetch, added, {});
  }
  co_await flush();
}

void Session::report_other_mailboxes(bool poll_due) {
  auto& n = *notify_;
  const auto now = std::chrono::steady_clock::now();
  if (n.names_changed->exchange(false) || (n.spec.watches_names() && now >= n.names_looked_at + kNamesLook)) {
    n.names_looked_at = now;
    std::vector<mailstore::FolderEntry> entries;
    if (!store_error_of([&] { entries = user_->list(); })) report_folder_list(std::move(entries));
  }
  const std::string selected_name = selected_ ? selected_->folder->name() : std::string();
  for (auto& [name, w] : n.watched) {
    if (name == selected_name) continue;  // told as the selected mailbox, if at all
    if (poll_due && !w.folder->listeners_hear_everyone()) w.folder->refresh();
    const std::uint64_t counter = w.folder->change_counter();
    if (counter == w.known_counter) continue;
    w.known_counter = counter;
    mailstore::FolderStatus now_status;
    if (store_error_of([&] { now_status = w.folder->status(); })) continue;
    const auto& was = w.status;
    std::string items;
    const bool counts = now_status.messages != was.messages || now_status.uid_next != was.uid_next ||
                        now_status.uid_validity != was.uid_validity;
    // RFC 5465 §5.2, §5.3: at least MESSAGES and UIDNEXT (and UIDVALIDITY) for new and expunged messages.
    if (counts && (w.events & (kMessageNew | kMessageExpunge)))
      items = "MESSAGES " + std::to_string(now_status.messages) + " UIDNEXT " + std::to_string(now_status.uid_next) +
              " UIDVALIDITY " + std::to_string(now_status.uid_validity) + " UNSEEN " +
              std::to_string(now_status.unseen);
    else if ((w.events & kFlagChange) && (now_status.unseen != was.unseen || (condstore_ && now_status.highest_modseq != was.highest_modseq)))
      items = "UNSEEN " + std::to_string(now_status.unseen);
    if (!items.empty() && condstore_) items += " HIGHESTMODSEQ " + std::to_string(now_status.highest_modseq);
    if (!items.empty()) untagged("STATUS " + mailbox_to_wire(name) + " (" + items + ")");
    w.status = now_status;
  }
}

// LIST responses for what changed in the folder list (RFC 5465 §5.4, §5.5):
// a deleted folder as \NonExistent, a renamed one with OLDNAME (told from a
// delete and a create by its UIDVALIDITY, which a rename keeps), a new one,
// and a subscription added or removed.
void Session::report_folder_list(std::vector<mailstore::FolderEntry> now) {
  auto& n = *notify_;
  const auto list_line = [this](const mailstore::FolderEntry& e, std::string_view extra = {}) {
    untagged("LIST (" + list_attributes(e, true) + ") \"/\" " + mailbox_to_wire(e.name) + std::string(extra));
  };
  std::vector<const mailstore::FolderEntry*> gone;
  for (const auto& old : n.entries)
    if (!find_entry(now, old.name)) gone.push_back(&old);
  std::vector<std::string> renamed_from;
  for (const auto& entry : now) {
    const auto* old = find_entry(n.entries, entry.name);
    if (old) {
      if (old->subscribed != entry.subscribed && (n.spec.events_for(entry) & kSubscriptionChange)) list_line(entry);
      continue;
    }
    if (!(n.spec.events_for(entry) & kMailboxName)) continue;
    std::uint32_t validity = 0;
    mailstore::FolderPtr folder;
    if (!store_error_of([&] { folder = user_->open(entry.name); })) validity = folder->uid_validity();
    n.uid_validity[entry.name] = validity;
    const auto from = std::find_if(gone.begin(), gone.end(), [&](const mailstore::FolderEntry* g) {
      const auto v = n.uid_validity.find(g->name);
      return validity != 0 && v != n.uid_validity.end() && v->second == validity;
    });
    if (from == gone.end()) {
      list_line(entry);
      continue;
    }
    list_line(entry, " (\"OLDNAME\" (" + mailbox_to_wire((*from)->name) + "))");
    renamed_from.push_back((*from)->name);
  }
  for (const auto* g : gone)
    if ((n.spec.events_for(*g) & kMailboxName) &&
        std::find(renamed_from.begin(), renamed_from.end(), g->name) == renamed_from.end())
      untagged("LIST (\\NonExistent) \"/\" " + mailbox_to_wire(g->name));
  n.entries = std::move(now);
  watch_covered_folders();
}

}  // namespace umstore::imap
