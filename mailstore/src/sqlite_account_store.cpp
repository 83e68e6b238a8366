#include "mailstore/sqlite_account_store.hpp"

#include <sqlite3.h>

#include <mutex>
#include <type_traits>

#include "account_rules.hpp"
#include "common/e164.hpp"

namespace umstore::mailstore {

namespace {

using detail::hash_password;
using detail::require_e164;
using detail::unknown_number;
using detail::validate;

// Another process (admin CLI vs. server) may hold the write lock briefly.
constexpr int kBusyTimeoutMs = 10'000;

// Owns a prepared statement.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
      fail("cannot prepare statement");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text) {
    if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) != SQLITE_OK)
      fail("cannot bind value");
    return *this;
  }
  Statement& bind(int index, std::uint64_t value) {
    if (sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value)) != SQLITE_OK) fail("cannot bind value");
    return *this;
  }
  // True while there is a row to read.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("statement failed");
  }
  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
  }
  std::uint64_t integer(int column) const { return static_cast<std::uint64_t>(sqlite3_column_int64(stmt_, column)); }
  int changes() const { return sqlite3_changes(db_); }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw AccountError(std::string("account database: ") + std::string(what) + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    throw AccountError("account database: " + message);
  }
}

// Runs a statement that changes the account `number`; throws when there is none.
void change_account(Statement& change, std::string_view number) {
  change.step();
  if (change.changes() == 0) throw AccountError(unknown_number(number));
}

// The account's `columns`, read by `read`; nullopt when there is no such account.
template <typename Read>
auto select_account(sqlite3* db, std::mutex& mutex, std::string_view number, std::string_view columns, Read read)
    -> std::optional<std::invoke_result_t<Read, Statement&>> {
  if (!umstore::is_e164(number)) return std::nullopt;
  std::lock_guard lock(mutex);
  Statement query(db, "SELECT " + std::string(columns) + " FROM accounts WHERE number = ?");
  query.bind(1, number);
  if (!query.step()) return std::nullopt;
  return read(query);
}

// Columns added after the first release: databases created before get them
// with their defaults (the settings every mailbox had then).
bool has_column(sqlite3* db, std::string_view column) {
  Statement columns(db, "PRAGMA table_info(accounts)");
  while (columns.step())
    if (columns.text(1) == column) return true;
  return false;
}

// Adds columns (`alter`, whose first column is `first`) unless they are there.
void add_columns(sqlite3* db, std::string_view first, const char* alter) {
  if (has_column(db, first)) return;
  // The server and the admin CLI may open an old database at the same time:
  // check again under the write lock.
  exec(db, "BEGIN IMMEDIATE");
  try {
    if (!has_column(db, first)) exec(db, alter);
    exec(db, "COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void add_later_columns(sqlite3* db) {
  add_columns(db, "playable",
              "ALTER TABLE accounts ADD COLUMN playable TEXT NOT NULL DEFAULT 'wav';"
              " ALTER TABLE accounts ADD COLUMN fax_pdf INTEGER NOT NULL DEFAULT 0;"
              " ALTER TABLE accounts ADD COLUMN file_by_kind INTEGER NOT NULL DEFAULT 0");
  // NULL: the configuration's [aging] default.
  add_columns(db, "age_days",
              "ALTER TABLE accounts ADD COLUMN age_days INTEGER;"
              " ALTER TABLE accounts ADD COLUMN trash_days INTEGER");
}

// A MailboxAging day count as bound to SQL: -1 for "the default" (NULL in the table).
std::uint64_t days_param(std::optional<unsigned> days) {
  return days ? std::uint64_t{*days} : static_cast<std::uint64_t>(-1);
}
std::optional<unsigned> days_column(std::uint64_t value) {
  return static_cast<std::int64_t>(value) < 0 ? std::nullopt : std::optional<unsigned>(static_cast<unsigned>(value));
}

}  // namespace

SqliteAccountStore::SqliteAccountStore(const std::filesystem::path& db_file) {
  passwords_ = std::make_unique<detail::PasswordCheck>();
  if (sqlite3_open_v2(db_file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw AccountError("cannot open the account database " + db_file.string() + ": " + message);
  }
  try {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    exec(db_, "PRAGMA journal_mode=WAL");
    exec(db_, "PRAGMA synchronous=FULL");
    exec(db_,
         "CREATE TABLE IF NOT EXISTS accounts ("
         " number TEXT PRIMARY KEY NOT NULL,"
         " name TEXT NOT NULL,"
         " email TEXT NOT NULL,"
         " quota_bytes INTEGER NOT NULL,"
         " password_hash TEXT NOT NULL)");
    add_later_columns(db_);
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteAccountStore::~SqliteAccountStore() { sqlite3_close(db_); }

void SqliteAccountStore::add(const Account& account, std::string_view password) {
  validate(account);
  add_with_hash(account, hash_password(password));  // slow: outside the lock
}

void SqliteAccountStore::add_with_hash(const Account& account, std::string_view password_hash) {
  validate(account);
  detail::require_argon2id_hash(password_hash);
  std::lock_guard lock(mutex_);
  Statement insert(db_,
                   "INSERT INTO accounts (number, name, email, quota_bytes, password_hash) VALUES (?, ?, ?, ?, ?)"
                   " ON CONFLICT(number) DO NOTHING");
  insert.bind(1, account.number)
      .bind(2, account.name)
      .bind(3, account.email)
      .bind(4, account.quota_bytes)
      .bind(5, password_hash);
  insert.step();
  if (insert.changes() == 0) throw AccountError(detail::already_exists(account.number));
}

void SqliteAccountStore::update(const Account& account) {
  validate(account);
  std::lock_guard lock(mutex_);
  Statement change(db_, "UPDATE accounts SET name = ?, email = ?, quota_bytes = ? WHERE number = ?");
  change.bind(1, account.name).bind(2, account.email).bind(3, account.quota_bytes).bind(4, account.number);
  change_account(change, account.number);
}

void SqliteAccountStore::set_delivery(std::string_view number, const MailboxDelivery& delivery) {
  require_e164(number);
  std::lock_guard lock(mutex_);
  Statement change(db_, "UPDATE accounts SET playable = ?, fax_pdf = ?, file_by_kind = ? WHERE number = ?");
  change.bind(1, to_string(delivery.playable))
      .bind(2, std::uint64_t{delivery.fax_pdf})
      .bind(3, std::uint64_t{delivery.file_by_kind})
      .bind(4, number);
  change_account(change, number);
}

std::optional<MailboxDelivery> SqliteAccountStore::delivery(std::string_view number) const {
  return select_account(db_, mutex_, number, "playable, fax_pdf, file_by_kind", [](Statement& row) {
    return MailboxDelivery{parse_playable(row.text(0)).value_or(PlayableAudio::wav), row.integer(1) != 0,
                           row.integer(2) != 0};
  });
}

void SqliteAccountStore::set_aging(std::string_view number, const MailboxAging& aging) {
  require_e164(number);
  std::lock_guard lock(mutex_);
  Statement change(db_, "UPDATE accounts SET age_days = NULLIF(?, -1), trash_days = NULLIF(?, -1) WHERE number = ?");
  change.bind(1, days_param(aging.move_to_trash_days)).bind(2, days_param(aging.purge_trash_days)).bind(3, number);
  change_account(change, number);
}

std::optional<MailboxAging> SqliteAccountStore::aging(std::string_view number) const {
  return select_account(db_, mutex_, number, "coalesce(age_days, -1), coalesce(trash_days, -1)", [](Statement& row) {
    return MailboxAging{days_column(row.integer(0)), days_column(row.integer(1))};
  });
}

void SqliteAccountStore::remove(std::string_view number) {
  require_e164(number);
  std::lock_guard lock(mutex_);
  Statement erase(db_, "DELETE FROM accounts WHERE number = ?");
  erase.bind(1, number);
  change_account(erase, number);
}

void SqliteAccountStore::set_password(std::string_view number, std::string_view password) {
  require_e164(number);
  const std::string hash = hash_password(password);
  std::lock_guard lock(mutex_);
  Statement change(db_, "UPDATE accounts SET password_hash = ? WHERE number = ?");
  change.bind(1, hash).bind(2, number);
  change_account(change, number);
}

std::optional<Account> SqliteAccountStore::find(std::string_view number) const {
  return select_account(db_, mutex_, number, "number, name, email, quota_bytes", [](Statement& row) {
    return Account{row.text(0), row.text(1), row.text(2), row.integer(3)};
  });
}

std::vector<Account> SqliteAccountStore::list() const {
  std::lock_guard lock(mutex_);
  Statement query(db_, "SELECT number, name, email, quota_bytes FROM accounts ORDER BY number");
  std::vector<Account> accounts;
  while (query.step()) accounts.push_back(Account{query.text(0), query.text(1), query.text(2), query.integer(3)});
  return accounts;
}

bool SqliteAccountStore::verify_password(std::string_view number, std::string_view password) const {
  std::string hash;
  if (password.size() <= detail::kMaxPasswordLength) hash = password_hash(number).value_or("");
  return passwords_->verify(number, hash, password);
}

std::optional<std::string> SqliteAccountStore::password_hash(std::string_view number) const {
  return select_account(db_, mutex_, number, "password_hash", [](Statement& row) { return row.text(0); });
}

}  // namespace umstore::mailstore
