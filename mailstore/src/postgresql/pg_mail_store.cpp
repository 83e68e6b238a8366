// The PostgreSQL backend's MailStore, UserMailbox and Folder: thin objects
// over MailTables (every statement) and ConnectionPool (every connection);
// ChangeFeed brings other nodes' changes to listeners; pg_text_search
// narrows SEARCH BODY/TEXT. Objects hold ids and names, and the node's
// copy of a folder's message list (pg_folder_mirror.hpp) asks the database
// what changed at every read, so a folder open on one node never goes stale
// on another.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "../flag_change.hpp"
#include "../message_bytes.hpp"
#include "common/log.hpp"
#include "mailstore/folder_name.hpp"
#include "mailstore/mail_store.hpp"
#include "pg_body_cache.hpp"
#include "pg_change_feed.hpp"
#include "pg_connection_pool.hpp"
#include "pg_mail_tables.hpp"
#include "pg_schema.hpp"
#include "pg_text_filler.hpp"
#include "pg_text_search.hpp"

namespace umstore::mailstore {
namespace pg {
namespace {

// Bodies read recently, kept for the FETCHes that follow (pg_body_cache.hpp).
constexpr std::size_t kBodyCacheBytes = 64u << 20;

std::string in_quotes(std::string_view name) { return "\"" + std::string(name) + "\""; }

// messages.imap_metadata: the metadata without the header, which the
// header column holds.
std::string stored_metadata(MessageMetadata metadata) {
  metadata.header.clear();
  return encode_metadata(metadata);
}

struct Backend {
  ConnectionPool pool;
  ChangeFeed feed;
  BodyCache bodies{kBodyCacheBytes};
  // Whether bodies.search_text is kept and searched: asked for
  // ([store] fulltext_index) and its trigram index is in the database.
  std::atomic<bool> text_index{false};
  TextFiller texts{pool};  // after the pool: stops before it
  Backend(const std::string& conninfo, std::size_t pool_size) : pool(conninfo, pool_size), feed(conninfo) {}
  // New bodies get their text after the commit; without the index, a
  // search or rebuild computes it once there is one.
  void text_later(std::int64_t folder_id, const Appended& appended, std::string_view rfc822) {
    if (text_index) texts.queue(folder_id, appended.body_sha256, rfc822);
  }
  template <typename Work>
  auto run(Work&& work) {
    return with_connection(pool, [&](Connection& c) {
      MailTables tables(c);
      return work(tables);
    });
  }
};

// Where deliveries go, (number + '\n' + folder) -> the folder's row, so a
// delivery does not look its mailbox and folder up every time. A row
// removed since (on any node) shows as FolderNotFound at the append, which
// forgets it. Bounded: forgets everything at kLimit rows.
class DeliveryFolders {
 public:
  std::optional<FolderRow> find(const std::string& where) const {
    std::lock_guard lock(mutex_);
    const auto it = rows_.find(where);
    return it == rows_.end() ? std::nullopt : std::optional<FolderRow>(it->second);
  }
  void remember(const std::string& where, const FolderRow& row) {
    std::lock_guard lock(mutex_);
    if (rows_.size() >= kLimit) rows_.clear();
    rows_.insert_or_assign(where, row);
  }
  void forget(const std::string& where) {
    std::lock_guard lock(mutex_);
    rows_.erase(where);
  }

 private:
  static constexpr std::size_t kLimit = 100'000;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, FolderRow> rows_;
};

class PgFolder final : public Folder {
 public:
  PgFolder(std::shared_ptr<Backend> backend, FolderRow row)
      : backend_(std::move(backend)), row_(std::move(row)), signals_(backend_->feed.signals(row_.id)) {}

  const std::string& name() const noexcept override { return row_.name; }
  const std::string& id() const noexcept override { return row_.guid; }
  std::uint32_t uid_validity() const override { return row_.uid_validity; }
  const FolderRow& row() const noexcept { return row_; }

  // The node's copy of the message list answers these once it is up to
  // date (pg_folder_mirror.hpp).
  std::vector<MessageInfo> snapshot() const override { return signals_->mirror.snapshot(delta_reader()); }
  FolderStatus status() const override {
    if (auto s = signals_->mirror.status(delta_reader())) return *s;
    return backend_->run([&](MailTables& t) { return t.status(row_.id); });
  }
  std::uint64_t change_counter() const override { return signals_->changes.load(); }
  FolderChanges changes_since(std::uint64_t modseq) const override {
    if (auto c = signals_->mirror.changes_since(modseq, delta_reader())) return std::move(*c);
    return backend_->run([&](MailTables& t) { return t.changes_since(row_.id, modseq); });
  }
  FolderChanges changes_heard_since(std::uint64_t modseq) const override {
    if (auto c = signals_->mirror.changes_heard_since(modseq, delta_reader())) return std::move(*c);
    return backend_->run([&](MailTables& t) { return t.changes_since(row_.id, modseq); });
  }
  void refresh() override {}  // the database is always current

  MessageDataPtr open_message(std::uint32_t uid) const override {
    if (auto cached = backend_->bodies.find(row_.id, uid)) return cached;
    auto bytes = backend_->run([&](MailTables& t) { return t.body(row_.id, uid); });
    if (!bytes) return nullptr;
    MessageDataPtr data = std::make_shared<detail::MessageBytes>(std::move(*bytes));
    backend_->bodies.store(row_.id, uid, data);
    return data;
  }

  // Kept since the append; computed once for messages stored before.
  UidMetadata metadata(std::span<const std::uint32_t> uids) const override {
    auto rows = backend_->run([&](MailTables& t) { return t.metadata(row_.id, uids); });
    UidMetadata out;
    for (StoredMetadata& row : rows) {
      std::optional<MessageMetadata> m;
      if (row.metadata) m = decode_metadata(*row.metadata);
      if (!m) {
        const MessageDataPtr data = open_message(row.uid);
        if (!data) continue;  // expunged meanwhile
        m = compute_metadata(data->bytes());
        backend_->run([&](MailTables& t) { t.keep_metadata(row_.id, row.uid, stored_metadata(*m)); });
      }
      m->header = std::move(row.header);
      out.emplace_back(row.uid, std::move(*m));
    }
    return out;
  }

  std::uint32_t append(std::string_view rfc822, Flags flags, std::span<const std::string> keywords,
                       std::optional<std::int64_t> internal_date) override {
    return append_as(std::nullopt, rfc822, flags, keywords, internal_date.value_or(std::time(nullptr)));
  }

  void adopt_uid_validity(std::uint32_t uid_validity) override {
    backend_->run([&](MailTables& t) { t.adopt_uid_validity(row_, uid_validity); });
    row_.uid_validity = uid_validity;
  }
  void append_keeping_uid(std::uint32_t uid, std::string_view rfc822, Flags flags,
                          std::span<const std::string> keywords, std::int64_t internal_date) override {
    append_as(uid, rfc822, flags, keywords, internal_date);
  }
  void raise_uid_next(std::uint32_t uid_next) override {
    backend_->run([&](MailTables& t) { t.raise_uid_next(row_.id, uid_next); });
  }

  std::vector<MessageInfo> change_flags(std::span<const std::uint32_t> uids, FlagChange how, Flags flags,
                                        std::span<const std::string> keywords) override {
    return change(uids, how, flags, keywords, std::nullopt).changed;
  }

  ConditionalFlagChange change_flags_unchanged_since(std::span<const std::uint32_t> uids, FlagChange how,
                                                     Flags flags, std::span<const std::string> keywords,
                                                     std::uint64_t unchanged_since) override {
    auto result = change(uids, how, flags, keywords, unchanged_since);
    return {std::move(result.changed), std::move(result.modified)};
  }

  std::uint32_t first_recent_uid() const override {
    return backend_->run([&](MailTables& t) { return t.first_recent_uid(row_.id); });
  }
  std::uint32_t claim_recent(std::uint32_t up_to_uid) override {
    return backend_->run([&](MailTables& t) { return t.claim_recent(row_.id, up_to_uid); });
  }

  std::vector<std::uint32_t> expunge(std::optional<std::span<const std::uint32_t>> only_uids) override {
    if (only_uids && only_uids->empty()) return {};  // "none of these", not "all"
    auto removed = backend_->run([&](MailTables& t) {
      return t.expunge(row_, only_uids.value_or(std::span<const std::uint32_t>{}), true);
    });
    if (!removed.empty()) signals_->changed();
    return removed;
  }

  // Within the database: bodies shared, one transaction; a move removes the
  // sources in the same transaction (never in both folders, nor in neither).
  UidPairs copy_to(Folder& target, std::span<const std::uint32_t> uids) override { return copy(target, uids, false); }
  UidPairs move_to(Folder& target, std::span<const std::uint32_t> uids) override { return copy(target, uids, true); }

  // The trigram index names the messages whose text holds the needle, and
  // proves most of them, after the folder's bodies without text (from
  // before the index) got it.
  std::optional<TextCandidates> text_candidates(std::string_view needle,
                                                std::span<const std::uint32_t> uids) const override {
    const auto pattern = search_pattern(needle);
    if (!backend_->text_index || !pattern) return std::nullopt;
    try {
      return with_connection(backend_->pool, [&](Connection& c) {
        fill_search_text(c, row_.id, FillScope::missing);
        return text_matches(c, row_.id, *pattern, match_is_exact(needle), uids);
      });
    } catch (const PgError& e) {  // not an outage (that is TemporaryFailure): the scan still answers
      log(LogLevel::Warning, "mailstore", "full-text search in folder {} failed ({}): this search reads every message",
          row_.guid, e.what());
      return std::nullopt;
    }
  }

  // Creates the index when it is missing and computes the text of every
  // body of the folder again.
  std::size_t rebuild_text_index() override {
    return with_connection(backend_->pool, [&](Connection& c) {
      if (!backend_->text_index) {
        create_text_index(c);
        backend_->text_index = true;
      }
      fill_search_text(c, row_.id, FillScope::all);
      return messages_with_text(c, row_.id);
    });
  }

  ListenerHandle listen(Listener on_change) override { return signals_->listeners->add(std::move(on_change)); }
  // Every node's commits reach the change feed (and a reconnect tells everyone).
  bool listeners_hear_everyone() const noexcept override { return true; }

 private:
  FolderMirror::Read delta_reader() const {
    return [this](std::uint64_t since, MailTables::Expunges expunges) {
      return backend_->run([&](MailTables& t) { return t.delta_since(row_.id, since, expunges); });
    };
  }

  std::uint32_t append_as(std::optional<std::uint32_t> uid, std::string_view rfc822, Flags flags,
                          std::span<const std::string> keywords, std::int64_t internal_date) {
    detail::validate_keywords(keywords);
    const auto unique = detail::unique_keywords(keywords);
    const std::string metadata = stored_metadata(compute_metadata(rfc822));
    const NewMessage m{rfc822, flags, unique, internal_date, std::nullopt, uid, metadata};
    const auto appended = backend_->run([&](MailTables& t) { return t.append(row_, m); });
    backend_->text_later(row_.id, appended, rfc822);
    signals_->changed();
    return appended.uid;
  }

  UidPairs copy(Folder& target, std::span<const std::uint32_t> uids, bool move) {
    auto* here = dynamic_cast<PgFolder*>(&target);
    if (!here || here->backend_ != backend_) return move ? Folder::move_to(target, uids) : Folder::copy_to(target, uids);
    auto pairs = backend_->run([&](MailTables& t) { return t.copy(row_, here->row(), uids, move); });
    if (!pairs.empty()) {
      here->signals_->changed();
      if (move) signals_->changed();
    }
    return pairs;
  }

  MailTables::FlagResult change(std::span<const std::uint32_t> uids, FlagChange how, Flags flags,
                                std::span<const std::string> keywords, std::optional<std::uint64_t> unchanged_since) {
    detail::validate_keywords(keywords);
    auto result = backend_->run([&](MailTables& t) {
      return t.change_flags(row_.id, uids, unchanged_since, [&](std::span<const MessageInfo> now) {
        std::vector<FlagUpdate> updates;
        for (const auto& m : now) {
          auto after = detail::changed_flags(m.flags, m.keywords, how, flags, keywords);
          if (after.flags != m.flags || after.keywords != m.keywords)
            updates.push_back({m.uid, after.flags, std::move(after.keywords)});
        }
        return updates;
      }, signals_->mirror.heard_states(uids));
    });
    if (!result.changed.empty()) signals_->changed();
    return result;
  }

  std::shared_ptr<Backend> backend_;
  FolderRow row_;
  std::shared_ptr<FolderSignals> signals_;
};

class PgMailbox final : public UserMailbox {
 public:
  PgMailbox(std::shared_ptr<Backend> backend, std::string number)
      : backend_(std::move(backend)), number_(std::move(number)) {
    id_ = backend_->run([&](MailTables& t) {
      const auto id = t.mailbox_id(number_);
      t.create_default_folders(id);
      return id;
    });
  }

  const std::string& number() const noexcept override { return number_; }

  std::vector<FolderEntry> list() const override {
    return backend_->run([&](MailTables& t) { return t.list_folders(id_); });
  }

  FolderPtr open(std::string_view name) override {
    const std::string canonical = canonical_folder_name(name);
    auto row = backend_->run([&](MailTables& t) { return t.find_folder(id_, canonical); });
    if (!row) throw FolderNotFound("there is no folder " + in_quotes(canonical));
    return std::make_shared<PgFolder>(backend_, std::move(*row));
  }

  void create(std::string_view name, SpecialUse use) override {
    const std::string canonical = canonical_folder_name(name);
    backend_->run([&](MailTables& t) {
      // Parents are created as needed, as in the Maildir backend.
      for (std::size_t slash = canonical.find('/'); slash != std::string::npos; slash = canonical.find('/', slash + 1)) {
        const std::string parent = canonical.substr(0, slash);
        if (!t.find_folder(id_, parent)) t.create_folder(id_, parent, SpecialUse::None);
      }
      try {
        t.create_folder(id_, canonical, use);
      } catch (const FolderExists&) {
        throw FolderExists("the folder " + in_quotes(canonical) + " already exists");
      }
      return 0;
    });
    names_changed();
  }

  void remove(std::string_view name) override {
    const std::string canonical = canonical_folder_name(name);
    if (is_inbox(canonical)) throw InvalidFolderName("INBOX cannot be deleted; expunge its messages instead");
    backend_->run([&](MailTables& t) {
      const auto row = t.find_folder(id_, canonical);
      if (!row) throw FolderNotFound("there is no folder " + in_quotes(canonical));
      t.remove_folder(*row);
      return 0;
    });
    names_changed();
  }

  void rename(std::string_view from, std::string_view to) override {
    const std::string old_name = canonical_folder_name(from);
    const std::string new_name = canonical_folder_name(to);
    if (is_inbox(new_name)) throw InvalidFolderName("a folder cannot be renamed to INBOX");
    if (!is_inbox(old_name) && new_name.starts_with(old_name + "/"))
      throw InvalidFolderName("a folder cannot be moved inside itself");
    backend_->run([&](MailTables& t) {
      const auto source = t.find_folder(id_, old_name);
      if (!source) throw FolderNotFound("there is no folder " + in_quotes(old_name));
      if (t.find_folder(id_, new_name)) throw FolderExists("the folder " + in_quotes(new_name) + " already exists");
      if (!is_inbox(old_name)) {
        t.rename_folder(id_, old_name, new_name);
        return 0;
      }
      // RFC 3501 RENAME INBOX: the messages move, INBOX stays and is empty.
      const FolderRow target = t.create_folder(id_, new_name, SpecialUse::None);
      std::vector<std::uint32_t> uids;
      for (const auto& m : t.snapshot(source->id)) uids.push_back(m.uid);
      t.copy(*source, target, uids, true);
      return 0;
    });
    names_changed();
  }

  std::vector<std::string> subscriptions() const override {
    return backend_->run([&](MailTables& t) { return t.subscriptions(id_); });
  }

  void set_subscribed(std::string_view name, bool subscribed) override {
    const std::string canonical = canonical_folder_name(name);
    backend_->run([&](MailTables& t) {
      t.set_subscribed(id_, canonical, subscribed);
      return 0;
    });
    names_changed();
  }

  QuotaUsage quota() const override {
    return backend_->run([&](MailTables& t) { return t.quota(id_); });
  }
  void set_quota_limit(std::uint64_t bytes) override {
    backend_->run([&](MailTables& t) {
      t.set_quota_limit(id_, bytes);
      return 0;
    });
  }
  void set_count_limits(std::uint64_t messages, std::uint64_t seconds) override {
    backend_->run([&](MailTables& t) {
      t.set_count_limits(id_, messages, seconds);
      return 0;
    });
  }

 private:
  std::shared_ptr<Backend> backend_;
  std::string number_;
  std::int64_t id_ = 0;
};

class PgMailStore final : public MailStore {
 public:
  PgMailStore(const std::string& conninfo, std::size_t pool_size, bool text_index)
      : backend_(std::make_shared<Backend>(conninfo, pool_size)) {
    with_connection(backend_->pool, [&](Connection& c) {
      check_schema(c);
      backend_->text_index = text_index && text_index_present(c);
      return 0;
    });
    if (text_index && !backend_->text_index)
      log(LogLevel::Warning, "mailstore",
          "the database has no full-text index (pg_trgm could not be created, or the database is not UTF8): IMAP "
          "SEARCH BODY and TEXT read every message; 'umstore index rebuild' creates it once pg_trgm can be");
  }

  UserMailboxPtr user(std::string_view number) override {
    std::lock_guard lock(mutex_);
    auto& slot = mailboxes_[std::string(number)];
    if (auto existing = slot.lock()) return existing;
    auto created = std::make_shared<PgMailbox>(backend_, std::string(number));
    slot = created;
    return created;
  }

  std::uint32_t deliver(std::string_view number, std::string_view rfc822, std::string_view folder) override {
    return deliver_keyed(number, rfc822, folder, std::nullopt).uid;
  }

  bool keeps_delivery_keys() const noexcept override { return true; }

  StorageUsage storage_usage() override {
    return with_connection(backend_->pool, [](Connection& c) {
      const Result r = c.exec("SELECT current_database(), pg_database_size(current_database())");
      return StorageUsage{"database", r.text(0, 0), static_cast<std::uint64_t>(r.integer(0, 1)), std::nullopt, std::nullopt};
    });
  }

  DeliveredCopy deliver_once(std::string_view number, std::string_view rfc822, std::string_view folder,
                             std::string_view key) override {
    return deliver_keyed(number, rfc822, folder, key);
  }

 private:
  DeliveredCopy deliver_keyed(std::string_view number, std::string_view rfc822, std::string_view folder,
                              std::optional<std::string_view> key) {
    const std::string canonical = canonical_folder_name(folder);
    const std::string metadata = stored_metadata(compute_metadata(rfc822));
    const NewMessage m{rfc822, 0, {}, std::time(nullptr), key, std::nullopt, metadata};
    auto mailbox = user(number);
    const std::string where = std::string(number) + '\n' + canonical;
    return backend_->run([&](MailTables& t) {
      for (bool again = false;; again = true) {
        const auto known = delivery_folders_.find(where);
        const FolderRow row = known ? *known : t.ensure_folder(t.mailbox_id(number), canonical);
        try {
          const auto appended = t.append(row, m);
          delivery_folders_.remember(where, row);
          if (appended.earlier) return DeliveredCopy{appended.uid, appended.earlier_folder, true};
          backend_->text_later(row.id, appended, rfc822);
          return DeliveredCopy{appended.uid, canonical, false};
        } catch (const FolderNotFound&) {
          // Removed (the folder, or the whole mailbox) since it was looked up.
          delivery_folders_.forget(where);
          if (again) throw;
        }
      }
    });
  }

  std::shared_ptr<Backend> backend_;
  DeliveryFolders delivery_folders_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::weak_ptr<UserMailbox>> mailboxes_;
};

}  // namespace
}  // namespace pg

std::unique_ptr<MailStore> open_postgresql_store(const std::string& conninfo, std::size_t pool_size, bool text_index) {
  return std::make_unique<pg::PgMailStore>(conninfo, pool_size, text_index);
}

}  // namespace umstore::mailstore
