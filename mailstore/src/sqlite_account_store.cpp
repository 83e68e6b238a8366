#include "mailstore/sqlite_account_store.hpp"

#include <type_traits>

#include "account_rules.hpp"
#include "common/e164.hpp"
#include "sqlite/database.hpp"

namespace umstore::mailstore {

namespace {

using detail::hash_password;
using detail::require_e164;
using detail::unknown_number;
using detail::validate;
using sqlite::Statement;

// Runs `sql`, its values bound by `bind`, on the account `number`; throws
// when there is no such account.
template <typename Bind>
void change_account(sqlite::Database& db, std::mutex& mutex, std::string_view number, std::string_view sql, Bind bind) {
  std::lock_guard lock(mutex);
  sqlite::errors_as<AccountError>([&] {
    Statement change(db, sql);
    bind(change);
    change.step();
    if (db.changes() == 0) throw AccountError(unknown_number(number));
  });
}

// The account's `columns`, read by `read`; nullopt when there is no such account.
template <typename Read>
auto select_account(sqlite::Database& db, std::mutex& mutex, std::string_view number, std::string_view columns,
                    Read read) -> std::optional<std::invoke_result_t<Read, Statement&>> {
  if (!umstore::is_e164(number)) return std::nullopt;
  std::lock_guard lock(mutex);
  return sqlite::errors_as<AccountError>([&]() -> std::optional<std::invoke_result_t<Read, Statement&>> {
    Statement query(db, "SELECT " + std::string(columns) + " FROM accounts WHERE number = ?");
    query.bind(1, number);
    if (!query.step()) return std::nullopt;
    return read(query);
  });
}

// Columns added after the first release: databases created before get them
// with their defaults (the settings every mailbox had then). `alter` adds
// them, `first` is the first of them.
void add_columns(sqlite::Database& db, std::string_view first, std::string_view alter) {
  if (db.has_column("accounts", first)) return;
  // The server and the admin CLI may open an old database at the same time:
  // check again under the write lock.
  sqlite::Transaction transaction(db);
  if (!db.has_column("accounts", first)) db.exec(alter);
  transaction.commit();
}

void add_later_columns(sqlite::Database& db) {
  add_columns(db, "playable",
              "ALTER TABLE accounts ADD COLUMN playable TEXT NOT NULL DEFAULT 'wav';"
              " ALTER TABLE accounts ADD COLUMN fax_pdf INTEGER NOT NULL DEFAULT 0;"
              " ALTER TABLE accounts ADD COLUMN file_by_kind INTEGER NOT NULL DEFAULT 0");
  // NULL: the configuration's [aging] default.
  add_columns(db, "age_days",
              "ALTER TABLE accounts ADD COLUMN age_days INTEGER;"
              " ALTER TABLE accounts ADD COLUMN trash_days INTEGER");
}

// A MailboxAging day count in the table: NULL for "the default".
void bind_days(Statement& statement, int index, std::optional<unsigned> days) {
  if (days)
    statement.bind(index, std::int64_t{*days});
  else
    statement.bind_null(index);
}
std::optional<unsigned> days_column(const Statement& row, int column) {
  if (row.is_null(column)) return std::nullopt;
  return static_cast<unsigned>(row.integer(column));
}

std::int64_t quota_param(const Account& account) { return static_cast<std::int64_t>(account.quota_bytes); }

Account account_from(const Statement& row) {
  return Account{row.text(0), row.text(1), row.text(2), static_cast<std::uint64_t>(row.integer(3))};
}

}  // namespace

// A failure of the database itself (a full disk, a damaged file) is an
// AccountError with SQLite's reason ("account database: ..."), as the
// store's other errors are.
SqliteAccountStore::SqliteAccountStore(const std::filesystem::path& db_file)
    : passwords_(std::make_unique<detail::PasswordCheck>()) {
  sqlite::errors_as<AccountError>([&] {
    db_ = std::make_unique<sqlite::Database>(db_file, "account database");
    db_->exec(
        "CREATE TABLE IF NOT EXISTS accounts ("
        " number TEXT PRIMARY KEY NOT NULL,"
        " name TEXT NOT NULL,"
        " email TEXT NOT NULL,"
        " quota_bytes INTEGER NOT NULL,"
        " password_hash TEXT NOT NULL)");
    add_later_columns(*db_);
  });
}

SqliteAccountStore::~SqliteAccountStore() = default;

void SqliteAccountStore::add(const Account& account, std::string_view password) {
  validate(account);
  add_with_hash(account, hash_password(password));  // slow: outside the lock
}

void SqliteAccountStore::add_with_hash(const Account& account, std::string_view password_hash) {
  validate(account);
  detail::require_argon2id_hash(password_hash);
  std::lock_guard lock(mutex_);
  sqlite::errors_as<AccountError>([&] {
    Statement insert(*db_,
                     "INSERT INTO accounts (number, name, email, quota_bytes, password_hash) VALUES (?, ?, ?, ?, ?)"
                     " ON CONFLICT(number) DO NOTHING");
    insert.bind(1, account.number)
        .bind(2, account.name)
        .bind(3, account.email)
        .bind(4, quota_param(account))
        .bind(5, password_hash);
    insert.step();
    if (db_->changes() == 0) throw AccountError(detail::already_exists(account.number));
  });
}

void SqliteAccountStore::update(const Account& account) {
  validate(account);
  change_account(*db_, mutex_, account.number, "UPDATE accounts SET name = ?, email = ?, quota_bytes = ? WHERE number = ?",
                 [&](Statement& change) {
                   change.bind(1, account.name).bind(2, account.email).bind(3, quota_param(account));
                   change.bind(4, account.number);
                 });
}

void SqliteAccountStore::set_delivery(std::string_view number, const MailboxDelivery& delivery) {
  require_e164(number);
  change_account(*db_, mutex_, number, "UPDATE accounts SET playable = ?, fax_pdf = ?, file_by_kind = ? WHERE number = ?",
                 [&](Statement& change) {
                   change.bind(1, to_string(delivery.playable))
                       .bind(2, std::int64_t{delivery.fax_pdf})
                       .bind(3, std::int64_t{delivery.file_by_kind})
                       .bind(4, number);
                 });
}

std::optional<MailboxDelivery> SqliteAccountStore::delivery(std::string_view number) const {
  return select_account(*db_, mutex_, number, "playable, fax_pdf, file_by_kind", [](const Statement& row) {
    return MailboxDelivery{parse_playable(row.text(0)).value_or(PlayableAudio::wav), row.integer(1) != 0,
                           row.integer(2) != 0};
  });
}

void SqliteAccountStore::set_aging(std::string_view number, const MailboxAging& aging) {
  require_e164(number);
  change_account(*db_, mutex_, number, "UPDATE accounts SET age_days = ?, trash_days = ? WHERE number = ?",
                 [&](Statement& change) {
                   bind_days(change, 1, aging.move_to_trash_days);
                   bind_days(change, 2, aging.purge_trash_days);
                   change.bind(3, number);
                 });
}

std::optional<MailboxAging> SqliteAccountStore::aging(std::string_view number) const {
  return select_account(*db_, mutex_, number, "age_days, trash_days", [](const Statement& row) {
    return MailboxAging{days_column(row, 0), days_column(row, 1)};
  });
}

void SqliteAccountStore::remove(std::string_view number) {
  require_e164(number);
  change_account(*db_, mutex_, number, "DELETE FROM accounts WHERE number = ?",
                 [&](Statement& erase) { erase.bind(1, number); });
}

void SqliteAccountStore::set_password(std::string_view number, std::string_view password) {
  require_e164(number);
  const std::string hash = hash_password(password);  // slow: outside the lock
  change_account(*db_, mutex_, number, "UPDATE accounts SET password_hash = ? WHERE number = ?",
                 [&](Statement& change) { change.bind(1, hash).bind(2, number); });
}

std::optional<Account> SqliteAccountStore::find(std::string_view number) const {
  return select_account(*db_, mutex_, number, "number, name, email, quota_bytes", account_from);
}

std::vector<Account> SqliteAccountStore::list() const {
  std::lock_guard lock(mutex_);
  return sqlite::errors_as<AccountError>([&] {
    Statement query(*db_, "SELECT number, name, email, quota_bytes FROM accounts ORDER BY number");
    std::vector<Account> accounts;
    while (query.step()) accounts.push_back(account_from(query));
    return accounts;
  });
}

bool SqliteAccountStore::verify_password(std::string_view number, std::string_view password) const {
  std::string hash;
  if (password.size() <= detail::kMaxPasswordLength) hash = password_hash(number).value_or("");
  return passwords_->verify(number, hash, password);
}

std::optional<std::string> SqliteAccountStore::password_hash(std::string_view number) const {
  return select_account(*db_, mutex_, number, "password_hash", [](const Statement& row) { return row.text(0); });
}

}  // namespace umstore::mailstore
