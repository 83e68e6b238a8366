#include "pg_mail_tables.hpp"

#include "../quota_counter.hpp"
#include "../special_use.hpp"
#include "common/sha256.hpp"
#include "mailstore/store_metrics.hpp"
#include "mime/message_parser.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>

namespace umstore::mailstore::pg {
namespace {

// Charges $2 bytes, $3 messages and $4 seconds of voice to mailbox $1 when
// they fit (or when $5 is false); RETURNING a row only then.
constexpr std::string_view kChargeMailbox =
    "UPDATE mailboxes SET used_bytes = used_bytes + $2, used_messages = used_messages + $3, "
    "used_seconds = used_seconds + $4 WHERE id = $1 AND (NOT $5::boolean OR ("
    "(quota_bytes = 0 OR used_bytes + $2 <= quota_bytes) AND (quota_messages = 0 OR used_messages + $3 <= quota_messages) "
    "AND ($4 = 0 OR quota_seconds = 0 OR used_seconds + $4 <= quota_seconds))) RETURNING id";

// Migration 10's function: the whole append in one statement.
constexpr std::string_view kStoreMessage =
    "SELECT o_outcome, o_uid, o_modseq, o_folder FROM umstore_store_message($1::bigint, $2::text, $3::bigint, "
    "$4::bigint, $5::bytea, $6::bytea, $7::bytea, $8::smallint, $9::text, $10::bigint, $11::bytea, $12::bigint, "
    "$13::text, $14::boolean, $15::text)";
constexpr std::string_view kFolderChangedUnderfoot = "UM001";  // raised by umstore_store_message

// Keywords are IMAP atoms (no spaces, checked before they get here), so a
// space-separated list travels safely as text in both directions.
std::string joined(std::span<const std::string> words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto space = text.find(' ');
    out.emplace_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return out;
}

std::string uid_array(std::span<const std::uint32_t> uids) {
  std::string out = "{";
  for (std::size_t i = 0; i < uids.size(); ++i) out += (i ? "," : "") + std::to_string(uids[i]);
  return out + "}";
}

// A text[] literal: every element quoted, so commas (allowed in IMAP atoms) stay inside.
std::string text_array(std::span<const std::string> items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (const char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

constexpr std::string_view kInfoColumns =
    "uid, flags, array_to_string(keywords, ' '), size, internal_date, modseq, save_date";

// kInfoColumns from `first` on.
MessageInfo info_at(const Result& r, int row, int first = 0) {
  MessageInfo m;
  m.uid = static_cast<std::uint32_t>(r.integer(row, first));
  m.flags = static_cast<Flags>(r.integer(row, first + 1));
  m.keywords = split(r.view(row, first + 2));
  m.size = static_cast<std::uint64_t>(r.integer(row, first + 3));
  m.internal_date = r.integer(row, first + 4);
  m.modseq = static_cast<std::uint64_t>(r.integer(row, first + 5));
  m.save_date = r.integer(row, first + 6);
  return m;
}

std::vector<MessageInfo> infos(const Result& r) {
  std::vector<MessageInfo> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(info_at(r, i));
  return out;
}

std::vector<std::uint32_t> uids_of(const Result& r) {
  std::vector<std::uint32_t> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(static_cast<std::uint32_t>(r.integer(i, 0)));
  std::sort(out.begin(), out.end());
  return out;
}

// UIDVALIDITY: seconds since the epoch, like the Maildir backend's, so a
// folder removed and created again gets a new one.
std::int64_t new_uid_validity() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::int64_t MailTables::mailbox_id(std::string_view number) {
  const auto r = c_.exec(
      "WITH inserted AS (INSERT INTO mailboxes (number) VALUES ($1) ON CONFLICT (number) DO NOTHING RETURNING id) "
      "SELECT id FROM inserted UNION ALL SELECT id FROM mailboxes WHERE number = $1",
      {Param::text(number)});
  return r.integer(0, 0);
}

std::optional<FolderRow> MailTables::find_folder(std::int64_t mailbox_id, std::string_view name) {
  const auto r = c_.exec("SELECT id, uid_validity, name, guid FROM folders WHERE mailbox_id = $1 AND name = $2",
                         {IntParam(mailbox_id), Param::text(name)});
  if (r.rows() == 0) return std::nullopt;
  return FolderRow{r.integer(0, 0), mailbox_id, r.text(0, 2), static_cast<std::uint32_t>(r.integer(0, 1)), r.text(0, 3)};
}

FolderRow MailTables::create_folder(std::int64_t mailbox_id, std::string_view name, SpecialUse use) {
  const auto r = c_.exec(
      "INSERT INTO folders (mailbox_id, name, special_use, uid_validity) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (mailbox_id, name) DO NOTHING RETURNING id, uid_validity, guid",
      {IntParam(mailbox_id), Param::text(name), Param::text(detail::special_use_to_string(use)),
       IntParam(new_uid_validity() & 0xffffffff)});
  if (r.rows() == 0) throw FolderExists("a folder named '" + std::string(name) + "' exists already");
  return FolderRow{r.integer(0, 0), mailbox_id, std::string(name), static_cast<std::uint32_t>(r.integer(0, 1)),
                   r.text(0, 2)};
}

FolderRow MailTables::ensure_folder(std::int64_t mailbox_id, std::string_view name) {
  for (std::size_t slash = name.find('/');; slash = name.find('/', slash + 1)) {
    const std::string_view prefix = name.substr(0, slash);
    c_.exec("INSERT INTO folders (mailbox_id, name, uid_validity) VALUES ($1, $2, $3) "
            "ON CONFLICT (mailbox_id, name) DO NOTHING",
            {IntParam(mailbox_id), Param::text(prefix), IntParam(new_uid_validity() & 0xffffffff)});
    if (slash == std::string_view::npos) break;
  }
  return *find_folder(mailbox_id, name);
}

std::vector<FolderEntry> MailTables::list_folders(std::int64_t mailbox_id) {
  const auto r = c_.exec(
      "SELECT f.name, f.special_use, EXISTS (SELECT 1 FROM subscriptions s WHERE s.mailbox_id = f.mailbox_id "
      "AND s.name = f.name), EXISTS (SELECT 1 FROM folders c WHERE c.mailbox_id = f.mailbox_id "
      "AND starts_with(c.name, f.name || '/')) FROM folders f WHERE f.mailbox_id = $1 "
      "ORDER BY f.name <> 'INBOX' AND NOT starts_with(f.name, 'INBOX/'), f.name",
      {IntParam(mailbox_id)});
  std::vector<FolderEntry> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.text(i, 0), detail::special_use_from_string(r.view(i, 1)), r.boolean(i, 2), r.boolean(i, 3)});
  return out;
}

bool MailTables::create_default_folders(std::int64_t mailbox_id) {
  Transaction t(c_);
  c_.exec("SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE", {IntParam(mailbox_id)});
  if (c_.exec("SELECT 1 FROM folders WHERE mailbox_id = $1 LIMIT 1", {IntParam(mailbox_id)}).rows() > 0) {
    t.commit();
    return false;
  }
  for (const auto& [name, use] : {std::pair{"INBOX", SpecialUse::None}, std::pair{"Sent", SpecialUse::Sent},
                                  std::pair{"Trash", SpecialUse::Trash}}) {
    create_folder(mailbox_id, name, use);
    set_subscribed(mailbox_id, name, true);
  }
  t.commit();
  return true;
}

void MailTables::set_subscribed(std::int64_t mailbox_id, std::string_view name, bool subscribed) {
  if (subscribed)
    c_.exec("INSERT INTO subscriptions (mailbox_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            {IntParam(mailbox_id), Param::text(name)});
  else
    c_.exec("DELETE FROM subscriptions WHERE mailbox_id = $1 AND name = $2", {IntParam(mailbox_id), Param::text(name)});
}

std::vector<std::string> MailTables::subscriptions(std::int64_t mailbox_id) {
  const auto r = c_.exec("SELECT name FROM subscriptions WHERE mailbox_id = $1 ORDER BY name COLLATE \"C\"",
                         {IntParam(mailbox_id)});
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
  return out;
}

void MailTables::remove_folder(const FolderRow& folder) {
  Transaction t(c_);
  c_.exec("SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE", {IntParam(folder.mailbox_id)});
  remove_rows(folder, {}, false);
  c_.exec("DELETE FROM folders WHERE id = $1", {IntParam(folder.id)});
  t.commit();
}

// A folder and everything below it take the new name; UIDVALIDITY and UIDs
// stay (the messages did not change). Subscriptions follow.
void MailTables::rename_folder(std::int64_t mailbox_id, std::string_view from, std::string_view to) {
  Transaction t(c_);
  const std::initializer_list<Param> names{IntParam(mailbox_id), Param::text(from), Param::text(to)};
  const auto moved = c_.exec(
      "UPDATE folders SET name = $3 || substr(name, length($2) + 1) "
      "WHERE mailbox_id = $1 AND (name = $2 OR starts_with(name, $2 || '/')) RETURNING id",
      names);
  if (moved.rows() == 0) throw FolderNotFound("there is no folder '" + std::string(from) + "'");
  c_.exec("UPDATE subscriptions SET name = $3 || substr(name, length($2) + 1) "
          "WHERE mailbox_id = $1 AND (name = $2 OR starts_with(name, $2 || '/'))",
          names);
  for (int i = 0; i < moved.rows(); ++i) notify(moved.integer(i, 0));
  t.commit();
}

Appended MailTables::append(const FolderRow& folder, const NewMessage& m) {
  const QuotaCharge charge = quota_charge(m.rfc822);
  const IntParam kept_uid(m.uid.value_or(0));
  const std::string keywords = joined(m.keywords);
  std::string sha = sha256_digest(m.rfc822);
  const auto stored = [&] {
    try {
      return c_.exec(kStoreMessage, {IntParam(folder.id), Param::text(folder.name), IntParam(folder.mailbox_id),
                                     kept_uid, Param::bytes(m.rfc822), Param::bytes(sha),
                                     m.metadata.empty() ? Param::null() : Param::bytes(m.metadata), IntParam(m.flags),
                                     Param::text(keywords), IntParam(m.internal_date),
                                     Param::bytes(mime::header_block(m.rfc822)),
                                     IntParam(static_cast<std::int64_t>(charge.seconds)),
                                     m.delivery_key ? Param::text(*m.delivery_key) : Param::null(),
                                     Param::text(detail::QuotaExemption::active() ? "f" : "t"),
                                     Param::text(kFolderChannel)});
    } catch (const PgError& e) {
      if (e.sqlstate() != kFolderChangedUnderfoot) throw;
      if (m.uid && find_folder(folder.mailbox_id, folder.name))
        throw std::runtime_error("folder '" + folder.name + "' has given out UID " + kept_uid.text + " or above already");
      throw FolderNotFound("folder '" + folder.name + "' was removed or renamed");
    }
  }();
  const std::string_view outcome = stored.view(0, 0);
  if (outcome == "gone") throw FolderNotFound("the mailbox was removed");
  if (outcome == "full") refuse(folder.mailbox_id, charge);
  if (outcome == "earlier")
    return Appended{static_cast<std::uint32_t>(stored.integer(0, 1)), 0, true, stored.text(0, 3), {}};
  Appended out{static_cast<std::uint32_t>(stored.integer(0, 1)), static_cast<std::uint64_t>(stored.integer(0, 2)),
               false, {}, std::move(sha)};
  if (m.delivery_key) {
    // Now and then, the keys no retry can ask for any more: the SMTP queue
    // gives up after 5 days and the ingest queue after one, by default.
    static std::atomic<unsigned> keyed_appends{0};
    if (keyed_appends.fetch_add(1) % 1024 == 0)
      c_.exec("DELETE FROM deliveries WHERE delivered < now() - interval '14 days'");
  }
  store_metrics().appends.add();
  store_metrics().append_bytes.add(m.rfc822.size());
  return out;
}

void MailTables::adopt_uid_validity(const FolderRow& folder, std::uint32_t uid_validity) {
  const auto r = c_.exec("UPDATE folders SET uid_validity = $2 WHERE id = $1 AND (uid_next = 1 OR uid_validity = $2) "
                         "RETURNING id",
                         {IntParam(folder.id), IntParam(uid_validity)});
  if (r.rows() == 0)
    throw std::runtime_error("folder '" + folder.name + "' already holds messages under UIDVALIDITY " +
                             std::to_string(folder.uid_validity) + ", not " + std::to_string(uid_validity) +
                             ": remove it from the database first");
}

void MailTables::raise_uid_next(std::int64_t folder_id, std::uint32_t uid_next) {
  c_.exec("UPDATE folders SET uid_next = greatest(uid_next, $2) WHERE id = $1", {IntParam(folder_id), IntParam(uid_next)});
}

std::optional<std::pair<std::string, std::uint32_t>> MailTables::delivered(std::int64_t mailbox_id, std::string_view key) {
  const auto r = c_.exec(
      "SELECT f.name, d.uid FROM deliveries d JOIN folders f ON f.id = d.folder_id "
      "WHERE d.mailbox_id = $1 AND d.key = $2",
      {IntParam(mailbox_id), Param::text(key)});
  if (r.rows() == 0) return std::nullopt;
  return std::make_pair(r.text(0, 0), static_cast<std::uint32_t>(r.integer(0, 1)));
}

std::vector<MessageInfo> MailTables::snapshot(std::int64_t folder_id) {
  return infos(c_.exec("SELECT " + std::string(kInfoColumns) + " FROM messages WHERE folder_id = $1 ORDER BY uid",
                       {IntParam(folder_id)}));
}

FolderStatus MailTables::status(std::int64_t folder_id) {
  const auto r = c_.exec(
      "SELECT count(m.uid), count(m.uid) FILTER (WHERE m.flags & 1 = 0), count(m.uid) FILTER (WHERE m.flags & 8 <> 0), "
      "f.uid_next, f.uid_validity, coalesce(sum(m.size), 0), count(m.uid) FILTER (WHERE m.uid >= f.first_recent), "
      "f.highest_modseq FROM folders f LEFT JOIN messages m ON m.folder_id = f.id WHERE f.id = $1 GROUP BY f.id",
      {IntParam(folder_id)});
  if (r.rows() == 0) throw FolderNotFound("the folder was removed");
  FolderStatus s;
  s.messages = static_cast<std::uint32_t>(r.integer(0, 0));
  s.unseen = static_cast<std::uint32_t>(r.integer(0, 1));
  s.deleted = static_cast<std::uint32_t>(r.integer(0, 2));
  s.uid_next = static_cast<std::uint32_t>(r.integer(0, 3));
  s.uid_validity = static_cast<std::uint32_t>(r.integer(0, 4));
  s.size = static_cast<std::uint64_t>(r.integer(0, 5));
  s.recent = static_cast<std::uint32_t>(r.integer(0, 6));
  s.highest_modseq = static_cast<std::uint64_t>(r.integer(0, 7));
  return s;
}

std::optional<std::string> MailTables::body(std::int64_t folder_id, std::uint32_t uid) {
  const auto r = c_.exec_binary(
      "SELECT b.data FROM messages m JOIN bodies b ON b.sha256 = m.body_sha256 WHERE m.folder_id = $1 AND m.uid = $2",
      {IntParam(folder_id), IntParam(uid)});
  if (r.rows() == 0) return std::nullopt;
  return r.text(0, 0);
}

std::vector<StoredMetadata> MailTables::metadata(std::int64_t folder_id, std::span<const std::uint32_t> uids) {
  // Binary results (the header is bytea): the UID as an 8-byte big-endian bigint.
  const auto r = c_.exec_binary(
      "SELECT uid, header, imap_metadata FROM messages WHERE folder_id = $1 AND uid = ANY($2::bigint[]) "
      "ORDER BY uid",
      {IntParam(folder_id), Param::text(uid_array(uids))});
  std::vector<StoredMetadata> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    std::uint32_t uid = 0;
    for (const char byte : r.view(i, 0)) uid = (uid << 8) | static_cast<unsigned char>(byte);
    StoredMetadata row{uid, r.text(i, 1), std::nullopt};
    if (!r.is_null(i, 2)) row.metadata = r.text(i, 2);
    out.push_back(std::move(row));
  }
  return out;
}

void MailTables::keep_metadata(std::int64_t folder_id, std::uint32_t uid, std::string_view encoded) {
  c_.exec("UPDATE messages SET imap_metadata = $3 WHERE folder_id = $1 AND uid = $2 AND imap_metadata IS NULL",
          {IntParam(folder_id), IntParam(uid), Param::bytes(encoded)});
}

std::vector<MessageInfo> MailTables::infos_of(std::int64_t folder_id, std::span<const std::uint32_t> uids) {
  return infos(c_.exec("SELECT " + std::string(kInfoColumns) +
                           " FROM messages WHERE folder_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid",
                       {IntParam(folder_id), Param::text(uid_array(uids))}));
}

std::uint64_t MailTables::next_modseq(std::int64_t folder_id) {
  const auto r = c_.exec("UPDATE folders SET highest_modseq = highest_modseq + 1 WHERE id = $1 RETURNING highest_modseq",
                         {IntParam(folder_id)});
  return static_cast<std::uint64_t>(r.integer(0, 0));
}

std::uint64_t MailTables::write_flags(std::int64_t folder_id, std::span<const FlagUpdate> updates,
                                      std::span<const MessageInfo> seen) {
  std::vector<std::uint32_t> uids;
  std::vector<std::string> seen_modseqs, flags, keywords;
  for (const auto& u : updates) {
    const auto it = std::find_if(seen.begin(), seen.end(), [&](const MessageInfo& m) { return m.uid == u.uid; });
    uids.push_back(u.uid);
    seen_modseqs.push_back(std::to_string(it == seen.end() ? 0 : it->modseq));
    flags.push_back(std::to_string(u.flags));
    keywords.push_back(joined(u.keywords));
  }
  const auto r = c_.exec("SELECT umstore_write_flags($1::bigint, $2::bigint[], $3::bigint[], $4::smallint[], "
                         "$5::text[], $6::text)",
                         {IntParam(folder_id), Param::text(uid_array(uids)), Param::text(text_array(seen_modseqs)),
                          Param::text(text_array(flags)), Param::text(text_array(keywords)),
                          Param::text(kFolderChannel)});
  return static_cast<std::uint64_t>(r.integer(0, 0));
}

void MailTables::notify(std::int64_t folder_id) {
  c_.exec("SELECT pg_notify($1, $2)", {Param::text(kFolderChannel), IntParam(folder_id)});
}

std::vector<std::uint32_t> MailTables::expunge(const FolderRow& folder, std::span<const std::uint32_t> uids,
                                               bool only_deleted) {
  Transaction t(c_);
  c_.exec("SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE", {IntParam(folder.mailbox_id)});
  std::vector<std::uint32_t> out = remove_rows(folder, uids, only_deleted);
  t.commit();
  return out;
}

// Inside the caller's transaction, the mailbox row locked.
std::vector<std::uint32_t> MailTables::remove_rows(const FolderRow& folder, std::span<const std::uint32_t> uids,
                                                   bool only_deleted) {
  const std::uint64_t modseq = next_modseq(folder.id);
  const auto removed = c_.exec(
      "WITH removed AS (DELETE FROM messages WHERE folder_id = $1 AND ($2 = '' OR uid = ANY($2::bigint[])) "
      "  AND (NOT $3::boolean OR flags & 8 <> 0) RETURNING uid, size, body_sha256, seconds), "
      "released AS (UPDATE bodies b SET refs = b.refs - r.n FROM "
      "  (SELECT body_sha256, count(*) AS n FROM removed GROUP BY 1) r WHERE b.sha256 = r.body_sha256) "
      "SELECT uid, size, seconds FROM removed",
      {IntParam(folder.id), Param::text(uids.empty() ? "" : uid_array(uids)), Param::text(only_deleted ? "t" : "f")});
  std::vector<std::uint32_t> out = uids_of(removed);
  if (out.empty()) return out;
  c_.exec("DELETE FROM bodies WHERE refs <= 0");  // the partial index finds them
  std::int64_t bytes = 0;
  std::int64_t seconds = 0;
  for (int i = 0; i < removed.rows(); ++i) {
    bytes += removed.integer(i, 1);
    seconds += removed.integer(i, 2);
  }
  c_.exec("UPDATE mailboxes SET used_bytes = greatest(0, used_bytes - $2), "
          "used_messages = greatest(0, used_messages - $3), used_seconds = greatest(0, used_seconds - $4) WHERE id = $1",
          {IntParam(folder.mailbox_id), IntParam(bytes), IntParam(static_cast<std::int64_t>(out.size())),
           IntParam(seconds)});
  c_.exec("INSERT INTO expunged (folder_id, uid, modseq) SELECT $1, unnest($2::bigint[]), $3 "
          "ON CONFLICT (folder_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq",
          {IntParam(folder.id), Param::text(uid_array(out)), IntParam(static_cast<std::int64_t>(modseq))});
  notify(folder.id);
  return out;
}

// One statement, so one snapshot: the highest mod-sequence and counters
// read with the changes are exactly the state they lead to (read apart, a
// change committed in between could be counted as seen and never reported).
FolderDelta MailTables::delta_since(std::int64_t folder_id, std::uint64_t modseq, Expunges expunges) {
  const auto r = c_.exec(
      "SELECT 0 AS kind, " + std::string(kInfoColumns) + " FROM messages WHERE folder_id = $1 AND modseq > $2 "
      "UNION ALL SELECT 1, uid, 0, '', 0, 0, modseq, 0 FROM expunged WHERE folder_id = $1 AND modseq > $2 AND $3 "
      "UNION ALL SELECT 2, uid_next, 0, '', uid_validity, first_recent, highest_modseq, 0 FROM folders WHERE id = $1 "
      "ORDER BY kind, uid",
      {IntParam(folder_id), IntParam(static_cast<std::int64_t>(modseq)),
       Param::text(expunges == Expunges::with ? "t" : "f")});
  FolderDelta out;
  out.since = modseq;
  bool folder_found = false;
  for (int row = 0; row < r.rows(); ++row) {
    switch (r.integer(row, 0)) {
      case 0: out.changed.push_back(info_at(r, row, 1)); break;
      case 1:
        out.expunged.push_back(
            {static_cast<std::uint32_t>(r.integer(row, 1)), static_cast<std::uint64_t>(r.integer(row, 6))});
        break;
      default:
        out.uid_next = static_cast<std::uint32_t>(r.integer(row, 1));
        out.uid_validity = static_cast<std::uint32_t>(r.integer(row, 4));
        out.first_recent = static_cast<std::uint32_t>(r.integer(row, 5));
        out.highest_modseq = static_cast<std::uint64_t>(r.integer(row, 6));
        folder_found = true;
    }
  }
  if (!folder_found) throw FolderNotFound("the folder was removed");
  return out;
}

FolderChanges MailTables::changes_since(std::int64_t folder_id, std::uint64_t modseq) {
  auto delta = delta_since(folder_id, modseq, Expunges::with);
  FolderChanges out;
  out.highest_modseq = delta.highest_modseq;
  out.changed = std::move(delta.changed);
  for (const auto& e : delta.expunged) out.expunged.push_back(e.uid);
  return out;
}

std::uint32_t MailTables::first_recent_uid(std::int64_t folder_id) {
  return static_cast<std::uint32_t>(
      c_.exec("SELECT first_recent FROM folders WHERE id = $1", {IntParam(folder_id)}).integer(0, 0));
}

std::uint32_t MailTables::claim_recent(std::int64_t folder_id, std::uint32_t up_to_uid) {
  // The old value is what the caller got: UPDATE ... RETURNING sees the new
  // row, so read the old one in the same statement. A folder with nothing
  // left to claim is not locked: PostgreSQL checks `first_recent < $2` on
  // the row it sees before waiting for its lock, so a SELECT does not queue
  // behind flag changes holding the folder row until their commit.
  const auto r = c_.exec(
      "UPDATE folders f SET first_recent = $2 FROM "
      "(SELECT id, first_recent FROM folders WHERE id = $1 AND first_recent < $2 FOR UPDATE) old "
      "WHERE f.id = old.id RETURNING old.first_recent",
      {IntParam(folder_id), IntParam(up_to_uid)});
  return r.rows() == 0 ? up_to_uid : static_cast<std::uint32_t>(r.integer(0, 0));
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> MailTables::copy(const FolderRow& from, const FolderRow& to,
                                                                      std::span<const std::uint32_t> uids, bool move) {
  Transaction t(c_);
  // Mailbox rows first (in id order when two), then folder rows: one lock order.
  c_.exec("SELECT 1 FROM mailboxes WHERE id IN ($1, $2) ORDER BY id FOR UPDATE",
          {IntParam(from.mailbox_id), IntParam(to.mailbox_id)});
  const auto sources = c_.exec("SELECT uid, size, seconds FROM messages WHERE folder_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid",
                               {IntParam(from.id), Param::text(uid_array(uids))});
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  if (sources.rows() == 0) {
    t.commit();
    return out;
  }
  QuotaCharge charge;
  for (int i = 0; i < sources.rows(); ++i) {
    charge.bytes += static_cast<std::uint64_t>(sources.integer(i, 1));
    charge.seconds += static_cast<std::uint64_t>(sources.integer(i, 2));
  }
  charge.messages = static_cast<std::uint64_t>(sources.rows());
  const IntParam count(sources.rows());
  // A move within one mailbox needs no room: the removal below gives it back.
  const bool check_room = !move || from.mailbox_id != to.mailbox_id;
  const auto charged = c_.exec(kChargeMailbox, {IntParam(to.mailbox_id), IntParam(static_cast<std::int64_t>(charge.bytes)),
                                                count, IntParam(static_cast<std::int64_t>(charge.seconds)),
                                                Param::text(check_room ? "t" : "f")});
  if (charged.rows() == 0) refuse(to.mailbox_id, charge);
  const auto allocated = c_.exec(
      "UPDATE folders SET uid_next = uid_next + $2, highest_modseq = highest_modseq + 1 WHERE id = $1 "
      "RETURNING uid_next - $2, highest_modseq",
      {IntParam(to.id), count});
  const std::int64_t first_uid = allocated.integer(0, 0);
  const IntParam modseq(allocated.integer(0, 1));
  const auto copied = c_.exec(
      "INSERT INTO messages (folder_id, uid, modseq, flags, keywords, internal_date, save_date, size, body_sha256, header, imap_metadata, seconds) "
      "SELECT $1, $3 + row_number() OVER (ORDER BY uid) - 1, $4, flags, keywords, internal_date, "
      "floor(extract(epoch FROM now()))::bigint, size, body_sha256, header, imap_metadata, seconds FROM messages "
      "WHERE folder_id = $2 AND uid = ANY($5::bigint[]) RETURNING uid",
      {IntParam(to.id), IntParam(from.id), IntParam(first_uid), modseq, Param::text(uid_array(uids))});
  c_.exec("UPDATE bodies b SET refs = b.refs + n FROM (SELECT body_sha256, count(*) AS n FROM messages "
          "WHERE folder_id = $1 AND uid = ANY($2::bigint[]) GROUP BY 1) s WHERE b.sha256 = s.body_sha256",
          {IntParam(from.id), Param::text(uid_array(uids))});
  const std::vector<std::uint32_t> new_uids = uids_of(copied);
  for (int i = 0; i < sources.rows(); ++i)
    out.emplace_back(static_cast<std::uint32_t>(sources.integer(i, 0)), new_uids.at(static_cast<std::size_t>(i)));
  notify(to.id);
  if (move) {
    std::vector<std::uint32_t> moved;
    for (const auto& [source, target] : out) moved.push_back(source);
    remove_rows(from, moved, false);  // same transaction: both commit, or neither
  }
  t.commit();
  return out;
}

QuotaUsage MailTables::quota(std::int64_t mailbox_id) {
  const auto r = c_.exec(
      "SELECT used_bytes, used_messages, quota_bytes, used_seconds, quota_messages, quota_seconds FROM mailboxes "
      "WHERE id = $1",
      {IntParam(mailbox_id)});
  const auto column = [&](int i) { return static_cast<std::uint64_t>(r.integer(0, i)); };
  return {column(0), column(1), column(2), column(3), column(4), column(5)};
}

// After the charge did not fit: says which limit (the caller's transaction rolls back).
void MailTables::refuse(std::int64_t mailbox_id, const QuotaCharge& charge) {
  const auto number = c_.exec("SELECT number FROM mailboxes WHERE id = $1", {IntParam(mailbox_id)});
  // Removed since the caller looked it up: its folders went with it.
  if (number.rows() == 0) throw FolderNotFound("the mailbox was removed");
  const std::string who = "the mailbox of " + number.text(0, 0);
  detail::require_room(who, quota(mailbox_id), charge);
  throw QuotaExceeded(who + " is full; delete messages or ask the administrator to raise the quota");
}

void MailTables::set_quota_limit(std::int64_t mailbox_id, std::uint64_t bytes) {
  c_.exec("UPDATE mailboxes SET quota_bytes = $2 WHERE id = $1", {IntParam(mailbox_id), IntParam(static_cast<std::int64_t>(bytes))});
}

void MailTables::set_count_limits(std::int64_t mailbox_id, std::uint64_t messages, std::uint64_t seconds) {
  c_.exec("UPDATE mailboxes SET quota_messages = $2, quota_seconds = $3 WHERE id = $1",
          {IntParam(mailbox_id), IntParam(static_cast<std::int64_t>(messages)), IntParam(static_cast<std::int64_t>(seconds))});
}

}  // namespace umstore::mailstore::pg
