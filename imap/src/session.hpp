#pragma once
// One IMAP connection: the state machine (not authenticated -> authenticated
// -> selected -> logout), the command loop and the per-session view of the
// selected folder (sequence number <-> UID map, \Recent, pending changes).
// Commands live in cmd_*.cpp, one file per command group.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command_parser.hpp"
#include "fetch_cache.hpp"
#include "imap/imap_server.hpp"
#include "mailstore/folder.hpp"
#include "mailstore/folder_watcher.hpp"
#include "net/connection.hpp"
#include "search_query.hpp"
#include "sequence_set.hpp"

namespace umstore::imap {

struct ServerContext {
  ImapServerConfig config;
  mailstore::MailStore& store;
  const mailstore::AccountStore& accounts;
  auth::PasswordPool& password_pool;  // Argon2id verification off the I/O threads
  auth::LoginThrottle& login_throttle;
  std::shared_ptr<net::MemoryBudget> literal_budget;
  mailstore::FolderWatcher* watcher = nullptr;  // other processes' changes; nullptr = sessions poll in IDLE
  FetchCache* fetch_cache = nullptr;             // shared by all sessions; nullptr = none
};

// Wakes a session waiting in IDLE; touched only on the session's strand.
struct ChangeNotifier {
  explicit ChangeNotifier(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool changed = false;
};

struct SelectedFolder {
  mailstore::FolderPtr folder;
  bool read_only = false;
  std::vector<mailstore::MessageInfo> messages;  // index = sequence number - 1
  std::set<std::uint32_t> recent;                // UIDs that are \Recent in this session (see claim_recent)
  std::vector<std::string> keywords;             // announced in FLAGS, in the order first seen
  std::uint64_t known_counter = 0;
  bool expunge_pending = false;  // messages gone from the store but not yet reported
  mailstore::Folder::ListenerHandle listener;
  mailstore::FolderWatcher::Handle watch;  // shared by every session of the process on this folder
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerContext& context, net::tcp::socket socket);
  net::Task<void> run();
  void shutdown() noexcept { conn_.close(); }
  asio::any_io_executor executor() { return conn_.executor(); }

 private:
  enum State : unsigned { kNotAuthenticated = 1, kAuthenticated = 2, kSelected = 4 };
  using Handler = net::Task<void> (Session::*)(const Command&);
  struct CommandSpec {
    std::string_view name;
    Handler handler;
    unsigned states;
  };
  static const std::vector<CommandSpec>& command_table();

  // Input
  enum class ReadStatus { Ok, Closed, TooLong, TooBig, OverBudget };
  // Literals are held against `held` until the command is done.
  net::Task<ReadStatus> read_command(std::string& text, net::MemoryReservation& held);
  net::Task<void> dispatch(const Command& cmd);

  // Output: queued in out_, written by flush(); large literals go straight
  // from the mapped message to the socket.
  void untagged(std::string_view text);
  void reply(const Command& cmd, std::string_view status, std::string_view text);
  net::Task<void> flush();
  net::Task<void> append_literal(std::string_view bytes);

  std::string capabilities() const;
  // Mailbox names on the wire: modified UTF-7, or UTF-8 once the client
  // enabled UTF8=ACCEPT (RFC 6855); mailbox_to_wire quotes when needed.
  std::optional<std::string> mailbox_arg(const Arg& arg) const;
  std::string mailbox_to_wire(std::string_view name) const;
  bool login_disabled() const;

  // Selected folder bookkeeping (session_selected.cpp)
  void select_folder(mailstore::FolderPtr folder, bool read_only);
  void deselect();
  // Reports what other sessions changed; EXPUNGE only when `allow_expunge`.
  void report_changes(bool allow_expunge);
  // Indexes (sequence number - 1) the set names, ascending.
  std::vector<std::size_t> resolve(const SequenceSet& set, bool uid) const;
  std::vector<std::size_t> resolve_arg(const Arg& arg, bool uid, bool& ok) const;
  void update_message(const mailstore::MessageInfo& info);
  // RFC 3501 §7.2.6: keywords the client has not seen in a FLAGS response
  // are announced (FLAGS, PERMANENTFLAGS) before a FETCH may carry them.
  void announce_keywords(std::span<const mailstore::MessageInfo> messages);
  void send_flags_responses();
  // "N FETCH ([UID u ]FLAGS (...)[ MODSEQ (m)])", MODSEQ once CONDSTORE is on.
  std::string fetch_flags_line(std::size_t index, bool with_uid) const;
  // Takes (read-write) or looks at (read-only) \Recent for the messages
  // from `from` on, which the session has just learnt of.
  void note_recent(std::size_t from);
  // RFC 7162: the first CONDSTORE enabling command; with a folder selected
  // it reports HIGHESTMODSEQ.
  void enable_condstore();


  // Indexes (sequence number - 1) of the selected messages the key matches, ascending.
  std::vector<std::size_t> matching_indexes(const SearchKey& key);
  std::optional<SearchKey> search_key_or_reply(const Command& cmd, std::span<const Arg> args);
  // The SEARCH or SORT (`name`) response, or ESEARCH when RETURN was given,
  // for the messages at `indexes` in result order, then the tagged OK.
  void send_search_result(const Command& cmd, std::string_view name, const SearchReturn& ret,
                          const std::vector<std::size_t>& indexes, bool with_modseq);
  // "MESSAGES 3 UNSEEN 1" for STATUS and LIST-STATUS; nullopt for an unknown item.
  std::optional<std::string> status_items(const mailstore::FolderStatus& status, std::span<const Arg> names);

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
  net::Task<void> cmd_check(const Command& cmd);
  net::Task<void> cmd_close(const Command& cmd);
  net::Task<void> cmd_expunge(const Command& cmd);
  net::Task<void> cmd_search(const Command& cmd);
  net::Task<void> cmd_sort(const Command& cmd);
  net::Task<void> cmd_fetch(const Command& cmd);
  net::Task<void> cmd_store(const Command& cmd);
  net::Task<void> cmd_copy(const Command& cmd);
  net::Task<void> cmd_getquota(const Command& cmd);
  net::Task<void> cmd_setquota(const Command& cmd);

  ServerContext& ctx_;
  net::Connection conn_;
  State state_ = kNotAuthenticated;
  bool logout_ = false;
  std::string out_;
  std::string pending_reply_;  // the tagged reply, sent after untagged updates
  std::deque<std::string> arg_storage_;
  mailstore::UserMailboxPtr user_;
  std::optional<SelectedFolder> selected_;
  std::shared_ptr<ChangeNotifier> notifier_;
  unsigned failed_logins_ = 0;
  bool condstore_ = false;  // a CONDSTORE enabling command was seen
  bool utf8_ = false;       // ENABLE UTF8=ACCEPT
  bool compressed_ = false; // COMPRESS DEFLATE is on
};

// Shared helpers of the command files.
bool is_uid_command(const Command& cmd);

}  // namespace umstore::imap

namespace umstore::imap {
// "(\Seen foo)" or "\Seen foo" -> system flags and keywords; nullopt when invalid.
std::optional<std::pair<mailstore::Flags, std::vector<std::string>>> parse_flag_list(std::span<const Arg> args);
}  // namespace umstore::imap
