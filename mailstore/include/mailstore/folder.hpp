#pragma once
// One IMAP mailbox ("folder", to keep it apart from the user's whole
// mailbox) in whichever backend keeps it, with persistent UIDs and flags.
//
// A Folder object is shared by every session of the process that has it
// open and is safe to call from any thread. Changes are durable (fsync'ed)
// before the call returns, and listeners hear of them afterwards.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mailstore/message.hpp"
#include "mailstore/message_metadata.hpp"
#include "mailstore/quota.hpp"

namespace umstore::mailstore {

// The store cannot do it now (disk full or failing, database unreachable...)
// but the same request may succeed later: SMTP answers 451 4.3.0, IMAP NO,
// ingest retries. what() names the cause for the administrator. Every
// backend throws this, never its own I/O error types.
class TemporaryFailure : public std::runtime_error { using std::runtime_error::runtime_error; };
class QuotaExceeded : public std::runtime_error { using std::runtime_error::runtime_error; };
// Named folders: the name is unknown, taken, or not a valid folder name.
class FolderNotFound : public std::runtime_error { using std::runtime_error::runtime_error; };
class FolderExists : public std::runtime_error { using std::runtime_error::runtime_error; };
class InvalidFolderName : public std::runtime_error { using std::runtime_error::runtime_error; };
// A keyword that is not an IMAP atom, too long, or too many on one message.
class InvalidKeyword : public std::invalid_argument { using std::invalid_argument::invalid_argument; };

struct FolderStatus {
  std::uint32_t messages = 0;
  std::uint32_t unseen = 0;
  std::uint32_t deleted = 0;
  std::uint32_t uid_next = 1;
  std::uint32_t uid_validity = 0;
  std::uint64_t size = 0;  // octets of all messages
  std::uint32_t recent = 0;  // messages no session has claimed as \Recent yet
  std::uint64_t highest_modseq = 1;
};

// What changed in a folder after a mod-sequence (Folder::changes_since).
struct FolderChanges {
  std::uint64_t highest_modseq = 1;       // the state the changes lead to: ask from here next time
  std::vector<MessageInfo> changed;       // added, or flags or keywords changed; ascending UID
  std::vector<std::uint32_t> expunged;    // removed; ascending
  // false: the store no longer knows every removal that far back (the
  // backend forgets old ones); compare snapshot() with what you hold instead.
  bool expunged_complete = true;
};

enum class FlagChange { Add, Remove, Replace };

// What a full-text index says of a BODY or TEXT string (Folder::text_candidates).
struct TextCandidates {
  // The messages that may contain it: every other one does not. Ascending.
  std::vector<std::uint32_t> possible;
  // Of those, the ones the index proves contain it (the string is a whole
  // word of a body part / of the header): no need to read them. Ascending.
  std::vector<std::uint32_t> in_body;
  std::vector<std::uint32_t> in_header;
};

struct ConditionalFlagChange {
  std::vector<MessageInfo> changed;     // as they are now
  std::vector<std::uint32_t> modified;  // left alone: changed after `unchanged_since`, in the order of `uids`
};

class UserMailbox;
namespace detail {
class ListenerRegistry;
}

class Folder {
 public:
  virtual ~Folder() = default;

  virtual const std::string& name() const noexcept = 0;  // IMAP name, UTF-8, "/" hierarchy
  // Never changes for the folder's life (renames and restarts included) and
  // never names another folder: the key for caches, unlike the object's
  // address or the name. 32 lowercase hex digits.
  virtual const std::string& id() const noexcept = 0;
  virtual std::uint32_t uid_validity() const = 0;

  // A consistent copy of all messages, ascending UID.
  virtual std::vector<MessageInfo> snapshot() const = 0;
  virtual FolderStatus status() const = 0;
  // Increases with every change (append, flags, expunge): a cheap "anything new?".
  // Other processes' changes count once noticed (a read, refresh() or the backend's own watch).
  virtual std::uint64_t change_counter() const = 0;
  // The incremental read (RFC 7162 QRESYNC, Dovecot's sync): messages
  // added or changed and UIDs expunged after `modseq`, as of now.
  virtual FolderChanges changes_since(std::uint64_t modseq) const = 0;
  // As changes_since, but only as current as the changes this process has
  // heard of (change_counter()): for a reader that catches up when its
  // listener tells it of a change. A backend whose changes_since costs a
  // round trip answers from what it holds while nothing new was heard, so
  // sessions woken by the same change ask the store once between them.
  virtual FolderChanges changes_heard_since(std::uint64_t modseq) const { return changes_since(modseq); }
  // Catches up with changes other processes or tools made on disk (a few
  // stat calls when there are none); listeners hear of what it finds.
  virtual void refresh() = 0;

  // nullptr when the UID does not exist (any more).
  virtual MessageDataPtr open_message(std::uint32_t uid) const = 0;

  // The header, ENVELOPE, BODY and BODYSTRUCTURE (message_metadata.hpp) of
  // each of `uids` (ascending) that exists, ascending: kept by the backend
  // since the message was stored; for one stored before it kept them,
  // computed from the message now and kept from then on. This generic path
  // computes them from open_message every time.
  using UidMetadata = std::vector<std::pair<std::uint32_t, MessageMetadata>>;
  virtual UidMetadata metadata(std::span<const std::uint32_t> uids) const;

  // Stores a message durably and returns its UID. `rfc822` should use CRLF
  // line ends. Throws QuotaExceeded when the user's quota would be exceeded.
  virtual std::uint32_t append(std::string_view rfc822, Flags flags = 0,
                               std::span<const std::string> keywords = {},
                               std::optional<std::int64_t> internal_date = std::nullopt) = 0;

  // Returns the messages whose flags or keywords actually changed, as they are now.
  virtual std::vector<MessageInfo> change_flags(std::span<const std::uint32_t> uids, FlagChange how, Flags flags,
                                                std::span<const std::string> keywords = {}) = 0;

  // As change_flags, but a message whose mod-sequence is above
  // `unchanged_since` is left alone and its UID reported in `modified`
  // (RFC 7162 STORE UNCHANGEDSINCE), decided under the same lock as the change.
  virtual ConditionalFlagChange change_flags_unchanged_since(std::span<const std::uint32_t> uids, FlagChange how,
                                                             Flags flags, std::span<const std::string> keywords,
                                                             std::uint64_t unchanged_since) = 0;

  // \Recent (RFC 3501): a message is recent for exactly one session, the
  // first to see it. Messages with UID >= first_recent_uid() are still
  // unclaimed; claim_recent(up_to) takes those below `up_to` for the caller
  // (across processes: the mark lives in the folder's UID list) and returns
  // the first UID the caller got. Read-only sessions only look.
  virtual std::uint32_t first_recent_uid() const = 0;
  virtual std::uint32_t claim_recent(std::uint32_t up_to_uid) = 0;

  // Removes messages flagged \Deleted (only those in `only_uids` when given);
  // returns the removed UIDs, ascending.
  virtual std::vector<std::uint32_t> expunge(std::optional<std::span<const std::uint32_t>> only_uids = std::nullopt) = 0;

  // Copies messages (flags, keywords and internal date kept) into `target`;
  // returns (source UID, new UID) pairs. UIDs that do not exist are
  // skipped. QuotaExceeded leaves no copy behind. This generic path reads
  // and appends each message (and takes back its copies on any failure); a
  // backend overrides it with a faster one for targets of its own.
  using UidPairs = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
  virtual UidPairs copy_to(Folder& target, std::span<const std::uint32_t> uids);

  // As copy_to, then removes the sources whatever their flags (IMAP MOVE,
  // RFC 6851). A crash in between may leave a message in both folders,
  // never in neither. The generic path marks the sources \Deleted and
  // expunges them; backends do it in one step where they can.
  virtual UidPairs move_to(Folder& target, std::span<const std::uint32_t> uids);

  // Full-text search (IMAP SEARCH BODY and TEXT): of `uids` (ascending),
  // those whose text (mailstore/message_text.hpp) may contain `needle`,
  // ASCII letters without case: the ones the backend's index names and
  // every one it has not indexed (yet). The caller checks each of them
  // exactly, unless the index proves it, and knows that the others do not
  // match. nullopt: no index narrows this needle (the backend keeps none,
  // or the needle has no word of three bytes): every message is to be read.
  virtual std::optional<TextCandidates> text_candidates(std::string_view /*needle*/,
                                                        std::span<const std::uint32_t> /*uids*/) const {
    return std::nullopt;
  }
  // Builds the full-text index again from the messages (`umstore index
  // rebuild`); returns how many it indexed, 0 for a backend without one.
  virtual std::size_t rebuild_text_index() { return 0; }

  // Called after every change, made here or by other processes (from the thread
  // that made or noticed it); the callback must only schedule work (post to
  // its own executor), never block. Registered while the handle lives.
  using Listener = std::function<void()>;
  using ListenerHandle = std::shared_ptr<void>;
  virtual ListenerHandle listen(Listener on_change) = 0;
  // Whether listeners also hear other processes' and nodes' changes as they
  // happen. false when the backend could not arrange it (a Maildir folder
  // without inotify): a reader waiting for changes then calls refresh()
  // now and then itself.
  virtual bool listeners_hear_everyone() const noexcept = 0;

  // Taking another store's folder with its UIDs (copy_store, `umstore db
  // copy`), so IMAP clients keep their caches. A backend that cannot do it
  // throws std::logic_error (the defaults here).
  // Takes the source's UIDVALIDITY while this folder has never given out a
  // UID; a no-op when it is the folder's already; else std::runtime_error.
  virtual void adopt_uid_validity(std::uint32_t uid_validity);
  // Appends with the UID the message had in the source, which must be at
  // or above UIDNEXT (std::runtime_error otherwise); UIDNEXT becomes uid + 1.
  virtual void append_keeping_uid(std::uint32_t uid, std::string_view rfc822, Flags flags,
                                  std::span<const std::string> keywords, std::int64_t internal_date);
  // UIDNEXT becomes at least `uid_next`: UIDs the source gave out are never given again.
  virtual void raise_uid_next(std::uint32_t uid_next);
};
using FolderPtr = std::shared_ptr<Folder>;

enum class SpecialUse { None, Sent, Trash, Drafts, Junk, Archive };

struct FolderEntry {
  std::string name;
  SpecialUse special_use = SpecialUse::None;
  bool subscribed = false;
  bool has_children = false;
};


// All folders of one E.164 mailbox. Folder names are IMAP names (UTF-8,
// "/" as hierarchy delimiter, "INBOX" case-insensitive); the mapping to
// directories can never leave the mailbox's own directory.
class UserMailbox {
 public:
  virtual ~UserMailbox() = default;
  virtual const std::string& number() const noexcept = 0;

  virtual std::vector<FolderEntry> list() const = 0;
  // Every subscribed name, ascending, whether a folder of that name exists
  // or not: RFC 3501 keeps a subscription when its folder goes, and lets a
  // client subscribe to a name before it exists (LIST \NonExistent, RFC 5258).
  virtual std::vector<std::string> subscriptions() const = 0;
  virtual FolderPtr open(std::string_view name) = 0;  // throws FolderNotFound
  virtual void create(std::string_view name, SpecialUse use = SpecialUse::None) = 0;  // throws FolderExists
  virtual void remove(std::string_view name) = 0;
  // Renaming INBOX moves its messages into a new folder and leaves INBOX empty (RFC 3501).
  virtual void rename(std::string_view from, std::string_view to) = 0;
  virtual void set_subscribed(std::string_view name, bool subscribed) = 0;

  virtual QuotaUsage quota() const = 0;
  virtual void set_quota_limit(std::uint64_t bytes) = 0;  // 0 = unlimited
  // The message and voice limits beside the byte limit (0 = unlimited).
  virtual void set_count_limits(std::uint64_t messages, std::uint64_t seconds) = 0;

  // Called after a folder is created, deleted or renamed or a subscription
  // changes through this object, that is in this process (MailStore::user
  // shares one object per number), as Folder::listen's callbacks are. Other
  // processes' and nodes' changes are not heard: a reader that must know
  // them looks at list() now and then.
  Folder::ListenerHandle listen_to_names(Folder::Listener on_change);

 protected:
  UserMailbox();
  void names_changed() const;

 private:
  std::shared_ptr<detail::ListenerRegistry> name_listeners_;
};
using UserMailboxPtr = std::shared_ptr<UserMailbox>;

}  // namespace umstore::mailstore
