// Admin accounts and the audit log in the embedded store's accounts.db
// (tables admin_users and admin_audit, made when missing), WAL with
// synchronous=FULL so an audit entry is on disk before the action answers.
#include <sqlite3.h>

#include <mutex>

#include "admin/admin_store.hpp"

namespace umstore::admin {
namespace {

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& bind(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind_text(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    if (rc == SQLITE_CONSTRAINT) throw AdminError("an admin of that name exists already");
    fail("step");
  }
  std::string text(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error(std::string("admin store: ") + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

AdminUser user_from(const Statement& row) {
  return {row.text(0), parse_role(row.text(1)).value_or(Role::Helpdesk), row.text(2), row.text(3), row.integer(4) != 0};
}

class SqliteAdminStore final : public AdminStore {
 public:
  explicit SqliteAdminStore(const std::filesystem::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
        SQLITE_OK)
      throw AdminError("cannot open " + file.string() + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
    sqlite3_busy_timeout(db_, 10000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE IF NOT EXISTS admin_users (name TEXT PRIMARY KEY, role TEXT NOT NULL,"
         " password_hash TEXT NOT NULL, totp_secret BLOB NOT NULL, totp_confirmed INTEGER NOT NULL DEFAULT 0)");
    exec("CREATE TABLE IF NOT EXISTS admin_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,"
         " actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, address TEXT NOT NULL, outcome TEXT NOT NULL)");
  }
  ~SqliteAdminStore() override { sqlite3_close(db_); }

  void add(const AdminUser& user) override {
    require_admin_name(user.name);
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT INTO admin_users (name, role, password_hash, totp_secret, totp_confirmed) VALUES (?,?,?,?,?)");
    s.bind_text(1, user.name).bind_text(2, to_string(user.role)).bind_text(3, user.password_hash).bind(4, user.totp_secret);
    s.bind(5, std::int64_t{user.totp_confirmed});
    s.step();
  }

  std::optional<AdminUser> find(std::string_view name) const override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT name, role, password_hash, totp_secret, totp_confirmed FROM admin_users WHERE name = ?");
    s.bind_text(1, name);
    if (!s.step()) return std::nullopt;
    return user_from(s);
  }

  std::vector<AdminUser> list() const override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT name, role, password_hash, totp_secret, totp_confirmed FROM admin_users ORDER BY name");
    std::vector<AdminUser> out;
    while (s.step()) out.push_back(user_from(s));
    return out;
  }

  void confirm_totp(std::string_view name) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "UPDATE admin_users SET totp_confirmed = 1 WHERE name = ?");
    s.bind_text(1, name);
    s.step();
  }

  void record(const AuditEntry& e) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT INTO admin_audit (at_ms, actor, action, target, address, outcome) VALUES (?,?,?,?,?,?)");
    s.bind(1, e.at_ms).bind_text(2, e.actor).bind_text(3, e.action).bind_text(4, e.target).bind_text(5, e.address);
    s.bind_text(6, e.outcome);
    s.step();
  }

  std::vector<AuditEntry> audit(std::size_t limit, std::int64_t before_id) const override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT id, at_ms, actor, action, target, address, outcome FROM admin_audit"
                     " WHERE (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?");
    s.bind(1, before_id).bind(2, before_id).bind(3, static_cast<std::int64_t>(limit));
    std::vector<AuditEntry> out;
    while (s.step())
      out.push_back({s.integer(0), s.integer(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6)});
    return out;
  }

 private:
  void exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string why = error ? error : "unknown error";
      sqlite3_free(error);
      throw AdminError(std::string("admin store: ") + why);
    }
  }
  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;
};

}  // namespace

std::unique_ptr<AdminStore> open_sqlite_admin_store(const std::filesystem::path& db_file) {
  return std::make_unique<SqliteAdminStore>(db_file);
}

}  // namespace umstore::admin
