#pragma once
// One IMAP connection: the state machine (not authenticated -> authenticated
// -> selected -> logout), the command loop and the per-session view of the
// selected folder (sequence number <-> UID map, \Recent, pending changes).
// Commands live in cmd_*.cpp, one file per command group.
#include <asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "command_parser.hpp"
#include "fetch_cache.hpp"
#include "sort_key_cache.hpp"
#include "common/log.hpp"
#include "imap/imap_metrics.hpp"
#include "imap/imap_server.hpp"
#include "mailstore/folder.hpp"
#include "net/connection.hpp"
#include "notify_spec.hpp"
#include "search_query.hpp"
#include "sequence_set.hpp"

namespace umstore::imap {

struct ServerContext {
  ImapServerConfig config;
  mailstore::MailStore& store;
  const mailstore::AccountStore& accounts;
  auth::PasswordPool& password_pool;  // Argon2id verification off the I/O threads
  asio::thread_pool& store_pool;      // store and account calls off the I/O threads
  auth::LoginThrottle& login_throttle;
  std::shared_ptr<net::MemoryBudget> literal_budget;
  FetchCache* fetch_cache = nullptr;             // shared by all sessions; nullptr = none
  ImapMetrics& metrics;
  SortKeyCache* sort_keys = nullptr;             // shared by all sessions; nullptr = none
};

// Wakes a session waiting in IDLE; the timer is touched only on the session's strand.
struct ChangeNotifier {
  explicit ChangeNotifier(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::atomic<bool> changed = false;  // also read by commands running on the store pool
};

// RFC 5267 §4: a SEARCH RETURN (UPDATE) whose result the session keeps
// current, telling the client in ESEARCH ADDTO and REMOVEFROM responses.
struct LiveSearch {
  std::string tag;
  SearchKey key;
  bool uid = false;              // UID SEARCH: updates by UID, else by message number
  std::set<std::uint32_t> uids;  // the result now
};

struct SelectedFolder {
  mailstore::FolderPtr folder;
  bool read_only = false;
  std::vector<mailstore::MessageInfo> messages;  // index = sequence number - 1
  std::set<std::uint32_t> recent;                // UIDs that are \Recent in this session (see claim_recent)
  std::vector<std::string> keywords;             // announced in FLAGS, in the order first seen
  std::uint64_t known_counter = 0;  // Folder::change_counter() when last caught up: "anything new?"
  std::uint64_t known_modseq = 0;   // the mod-sequence `messages` is up to date with
  std::uint32_t uid_next = 1;       // UIDNEXT before the snapshot was taken
  std::set<std::uint32_t> pending_expunges;  // gone from the store, not yet reported (RFC 3501 §7.4.1)
  std::vector<std::uint32_t> saved;  // RFC 5182 "$": UIDs of the last SEARCH RETURN (SAVE), ascending
  std::vector<LiveSearch> live_searches;
  std::set<std::uint32_t> live_touched;  // changed since the live searches were last brought up to date
  mailstore::Folder::ListenerHandle listener;
  bool hears_everyone = false;  // the listener hears other writers too; else IDLE polls

  // UIDs below this were given out before the session's view was taken, or are in it.
  std::uint32_t uid_bound() const { return std::max(uid_next, messages.empty() ? 1u : messages.back().uid + 1); }
};

// A mailbox other than the selected one that NOTIFY watches (RFC 5465).
struct WatchedFolder {
  mailstore::FolderPtr folder;
  mailstore::Folder::ListenerHandle listener;
  std::uint64_t known_counter = 0;  // Folder::change_counter() when `status` was read
  mailstore::FolderStatus status;   // as last told (or as at NOTIFY SET)
  unsigned events = 0;
};

// What NOTIFY SET asked for and what the session last saw of the mailboxes.
struct NotifyState {
  NotifySpec spec;
  std::vector<mailstore::FolderEntry> entries;  // the folder list when last looked at
  std::map<std::string, std::uint32_t> uid_validity;  // of listed folders, to tell a rename from delete + create
  std::map<std::string, WatchedFolder> watched;       // by folder name
  mailstore::Folder::ListenerHandle names_listener;
  std::shared_ptr<std::atomic<bool>> names_changed = std::make_shared<std::atomic<bool>>(false);
  std::chrono::steady_clock::time_point names_looked_at;
  bool polls_folders = false;  // a watched folder's listener does not hear other writers
};

// SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids] [(known-seqs known-uids)])) (RFC 7162 §3.2.5).
struct QresyncParameters {
  std::uint32_t uid_validity = 0;
  std::uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;  // all UIDs below UIDNEXT when absent
  std::optional<std::pair<SequenceSet, SequenceSet>> seq_match;  // message numbers and their UIDs
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  // Implicit: IMAPS, TLS before the greeting; OnRequest: STARTTLS when configured.
  enum class Tls { OnRequest, Implicit };
  Session(ServerContext& context, net::tcp::socket socket, Tls tls = Tls::OnRequest);
  net::Task<void> run();
  void shutdown() noexcept { conn_.close(); }
  asio::any_io_executor executor() { return conn_.executor(); }
  // The commands the session knows, as ImapMetrics counts them.
  static std::vector<std::string_view> command_names();

 private:
  enum State : unsigned { kNotAuthenticated = 1, kAuthenticated = 2, kSelected = 4 };
  using Handler = net::Task<void> (Session::*)(const Command&);
  // Where a command runs. Most do store calls and no I/O of their own (the
  // reply is written after them): they run on the store pool, so a slow
  // disk or database never holds up the I/O threads. Those that talk to
  // the client meanwhile stay on the session's strand and hand their store
  // calls to the pool one by one (in_store).
  enum class Runs { StorePool, Strand };
  struct CommandSpec {
    std::string_view name;
    Handler handler;
    unsigned states;
    Runs runs = Runs::StorePool;
  };
  static const std::vector<CommandSpec>& command_table();

  // Input
  enum class ReadStatus { Ok, Closed, TooLong, TooBig, OverBudget };
  // Literals are held against `held` until the command is done.
  net::Task<ReadStatus> read_command(std::string& text, net::MemoryReservation& held);
  net::Task<void> dispatch(const Command& cmd);  // runs the command and counts it

  // Runs `work` on the store pool and resumes on the session's strand.
  template <typename Work>
  net::Task<std::invoke_result_t<Work&>> in_store(Work work) {
    // g++ 12 destroys a non-trivial object passed into a coroutine call
    // inside co_await twice: the work must capture by reference or trivially.
    static_assert(std::is_trivially_destructible_v<Work>, "capture by reference");
    co_return co_await asio::co_spawn(
        ctx_.store_pool, [&work]() -> net::Task<std::invoke_result_t<Work&>> { co_return work(); },
        asio::use_awaitable);
  }

  // Output: queued in out_, written by flush(); large literals go straight
  // from the mapped message to the socket.
  void untagged(std::string_view text);
  void reply(const Command& cmd, std::string_view status, std::string_view text);
  net::Task<void> flush();
  net::Task<void> append_literal(std::string_view bytes);

  std::string capabilities() const;
  // Mailbox names on the wire: modified UTF-7, or UTF-8 once the client
  // enabled UTF8=ACCEPT (RFC 6855) or IMAP4rev2; mailbox_to_wire quotes when needed.
  std::optional<std::string> mailbox_arg(const Arg& arg) const;
  // The one mailbox name the command takes, or nullopt after the tagged BAD.
  std::optional<std::string> one_mailbox_or_reply(const Command& cmd);
  std::string mailbox_to_wire(std::string_view name) const;
  bool login_disabled() const;

  // Selected folder bookkeeping (session_selected.cpp)
  void select_folder(mailstore::FolderPtr folder, bool read_only);
  void deselect();
  // Reports what other sessions changed; EXPUNGE only when `allow_expunge`,
  // flag changes only when `report_flags` (else they wait for the next
  // catch-up that reports them). Returns the index of the first message it
  // added to the view (the view's size when none).
  std::size_t report_changes(bool allow_expunge, bool report_flags = true);
  // The callback a folder's listener calls: wakes the session.
  mailstore::Folder::Listener wake_on_change();
  // Indexes (sequence number - 1) the set names, ascending.
  std::vector<std::size_t> resolve(const SequenceSet& set, bool uid) const;
  // The same for a sequence-set argument; nullopt when it is not one.
  // "$" (RFC 5182) is the saved search result, by UID in any command.
  std::optional<std::vector<std::size_t>> resolve_arg(const Arg& arg, bool uid) const;
  std::optional<SequenceSet> sequence_set_arg(const Arg& arg) const;
  void update_message(const mailstore::MessageInfo& info);
  // RFC 3501 §7.2.6: keywords the client has not seen in a FLAGS response
  // are announced (FLAGS, PERMANENTFLAGS) before a FETCH may carry them.
  void announce_keywords(std::span<const mailstore::MessageInfo> messages);
  void send_flags_responses();
  // \Recent as FETCH FLAGS shows it: never to an IMAP4rev2 client (RFC 9051 Appendix E item 12).
  bool shows_recent(std::uint32_t uid) const { return !rev2_ && selected_->recent.contains(uid); }
  // "N FETCH ([UID u ]FLAGS (...)[ MODSEQ (m)])", MODSEQ once CONDSTORE is on.
  std::string fetch_flags_line(std::size_t index, bool with_uid) const;
  // Takes (read-write) or looks at (read-only) \Recent for the messages
  // from `from` on, which the session has just learnt of.
  void note_recent(std::size_t from);
  // RFC 7162: the first CONDSTORE enabling command; with a folder selected
  // it reports HIGHESTMODSEQ.
  void enable_condstore();
  // RFC 7162 QRESYNC (qresync.cpp). Sends "VANISHED (EARLIER)" for the UIDs
  // of `uids` from `floor` up that left the folder after `modseq` and are
  // not in the session's view; all such UIDs when the store no longer knows
  // that far back (§3.2.6: then it reports every one it lacks).
  void send_vanished_earlier(const SequenceSet& uids, std::uint64_t modseq, std::uint32_t floor = 1);
  // After SELECT (QRESYNC ...): VANISHED (EARLIER), then the changed messages' flags.
  void resync_selected(const QresyncParameters& q);


  // Indexes (sequence number - 1) of the selected messages the key matches, ascending.
  std::vector<std::size_t> matching_indexes(const SearchKey& key);
  // Whether the message at `index` matches; `candidates` from the full-text index, may be null.
  bool message_matches(const SearchKey& key, std::size_t index, const TextCandidates* candidates);
  // CONTEXT=SEARCH (live_search.cpp): a search kept current, what expunges
  // take from the results (before the EXPUNGE responses, while their
  // numbers hold), and what the messages in live_touched now add or take.
  void keep_live_search(const Command& cmd, SearchKey key, const std::vector<std::size_t>& indexes);
  void report_live_removals(const std::set<std::uint32_t>& expunged);
  void report_live_changes();
  std::optional<SearchKey> search_key_or_reply(const Command& cmd, std::span<const Arg> args);
  // RETURN (options) at the front of a SEARCH or SORT, or nullopt after the tagged BAD.
  std::optional<SearchReturnPrefix> search_return_or_reply(const Command& cmd, std::string_view what);
  // The SEARCH or SORT (`name`) response, or ESEARCH when RETURN was given,
  // for the messages at `indexes` in result order, then the tagged OK.
  void send_search_result(const Command& cmd, std::string_view name, const SearchReturn& ret,
                          const std::vector<std::size_t>& indexes, bool with_modseq);
  // RETURN (SAVE): keeps the result (or its MIN/MAX) as "$" (RFC 5182).
  void save_result(const SearchReturn& ret, const std::vector<std::size_t>& indexes);
  // "MESSAGES 3 UNSEEN 1" for STATUS and LIST-STATUS; nullopt for an unknown item.
  std::optional<std::string> status_items(const mailstore::FolderStatus& status, std::string_view folder_id,
                                          std::span<const Arg> names);

  // FETCH responses for the messages at `indexes`; `newly_seen` got \Seen
  // from this FETCH, so their FLAGS go along.
  enum class FetchEnd { Done, SomeExpunged, UnknownCte };
  net::Task<FetchEnd> fetch_responses(const FetchRequest& request, const std::vector<std::size_t>& indexes,
                                      const std::vector<std::uint32_t>& newly_seen);

  // NOTIFY (notify.cpp). Waits for the next command's first octets while
  // telling the client what NOTIFY asked for; false when the connection ended.
  net::Task<bool> wait_for_command();
  // Tells the client of changes until `*done` (IDLE's DONE, a command's
  // first octets): the selected mailbox's changes (always in IDLE, else as
  // NOTIFY asked) and NOTIFY's other mailboxes.
  net::Task<void> push_changes_until(std::shared_ptr<bool> done, bool idling);
  // One round of push_changes_until; `poll_due` when the timer ran out.
  net::Task<void> push_changes(bool idling, bool poll_due);
  // LIST and STATUS responses for NOTIFY's other mailboxes.
  void report_other_mailboxes(bool poll_due);
  void report_folder_list(std::vector<mailstore::FolderEntry> now);
  // Starts or stops watching folders as NOTIFY's filters now cover them.
  void watch_covered_folders();
  std::chrono::steady_clock::time_point next_look() const;

  net::Task<void> finish_login(const Command& cmd, std::string_view user, std::string_view password);

  // Commands
  net::Task<void> cmd_capability(const Command& cmd);
  net::Task<void> cmd_noop(const Command& cmd);
  net::Task<void> cmd_logout(const Command& cmd);
  net::Task<void> cmd_id(const Command& cmd);
  net::Task<void> cmd_enable(const Command& cmd);
  net::Task<void> cmd_namespace(const Command& cmd);
  net::Task<void> cmd_starttls(const Command& cmd);
  net::Task<void> cmd_compress(const Command& cmd);
  net::Task<void> cmd_login(const Command& cmd);
  net::Task<void> cmd_authenticate(const Command& cmd);
  net::Task<void> cmd_select(const Command& cmd);
  net::Task<void> cmd_create(const Command& cmd);
  net::Task<void> cmd_delete(const Command& cmd);
  net::Task<void> cmd_rename(const Command& cmd);
  net::Task<void> cmd_subscribe(const Command& cmd);
  net::Task<void> cmd_list(const Command& cmd);
  net::Task<void> cmd_status(const Command& cmd);
  net::Task<void> cmd_append(const Command& cmd);
  net::Task<void> cmd_idle(const Command& cmd);
  net::Task<void> cmd_notify(const Command& cmd);
  net::Task<void> cmd_check(const Command& cmd);
  net::Task<void> cmd_close(const Command& cmd);
  net::Task<void> cmd_expunge(const Command& cmd);
  net::Task<void> cmd_search(const Command& cmd);
  net::Task<void> cmd_cancelupdate(const Command& cmd);
  net::Task<void> cmd_sort(const Command& cmd);
  net::Task<void> cmd_thread(const Command& cmd);
  net::Task<void> cmd_fetch(const Command& cmd);
  net::Task<void> cmd_store(const Command& cmd);
  net::Task<void> cmd_copy(const Command& cmd);
  net::Task<void> cmd_getquota(const Command& cmd);
  net::Task<void> cmd_setquota(const Command& cmd);

  ServerContext& ctx_;
  net::Connection conn_;
  const bool implicit_tls_;
  ConnectionLog log_{"imap", 'i'};
  State state_ = kNotAuthenticated;
  bool logout_ = false;
  std::string out_;
  std::string pending_reply_;  // the tagged reply, sent after untagged updates
  std::deque<std::string> arg_storage_;
  mailstore::UserMailboxPtr user_;
  std::optional<SelectedFolder> selected_;
  std::shared_ptr<ChangeNotifier> notifier_;
  std::unique_ptr<NotifyState> notify_;  // NOTIFY SET is in force
  unsigned failed_logins_ = 0;
  bool condstore_ = false;  // a CONDSTORE enabling command was seen
  bool qresync_ = false;    // ENABLE QRESYNC: VANISHED instead of EXPUNGE (RFC 7162 §3.2.10)
  bool rev2_ = false;       // ENABLE IMAP4rev2: RFC 9051's differences from RFC 3501 (Appendix E)
  bool utf8_ = false;       // ENABLE UTF8=ACCEPT
  bool compressed_ = false; // COMPRESS DEFLATE is on
};

// Shared helpers of the command files.
bool is_uid_command(const Command& cmd);
// "\HasNoChildren \Sent" for a LIST response (and SELECT's in IMAP4rev2).
std::string list_attributes(const mailstore::FolderEntry& entry, bool with_subscribed);

}  // namespace umstore::imap

namespace umstore::imap {
// "(\Seen foo)" or "\Seen foo" -> system flags and keywords; nullopt when invalid.
std::optional<std::pair<mailstore::Flags, std::vector<std::string>>> parse_flag_list(std::span<const Arg> args);
}  // namespace umstore::imap
