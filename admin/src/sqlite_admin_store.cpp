// Admin accounts, the audit log and the gateway tokens issued in the console in the embedded store's accounts.db
// (tables admin_users, admin_audit and gateway_tokens, made when missing), WAL with
// synchronous=FULL so an audit entry is on disk before the action answers.
#include <mutex>

#include "admin/admin_store.hpp"
#include "sqlite/database.hpp"

namespace umstore::admin {
namespace {

using sqlite::Statement;

AdminUser user_from(const Statement& row) {
  return {row.text(0), parse_role(row.text(1)).value_or(Role::Helpdesk), row.text(2), row.text(3), row.integer(4) != 0};
}

class SqliteAdminStore final : public AdminStore {
 public:
  explicit SqliteAdminStore(const std::filesystem::path& file) : db_(file, "admin store") {
    db_.exec("CREATE TABLE IF NOT EXISTS admin_users (name TEXT PRIMARY KEY, role TEXT NOT NULL,"
             " password_hash TEXT NOT NULL, totp_secret BLOB NOT NULL, totp_confirmed INTEGER NOT NULL DEFAULT 0)");
    db_.exec("CREATE TABLE IF NOT EXISTS admin_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,"
             " actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, address TEXT NOT NULL,"
             " outcome TEXT NOT NULL)");
    db_.exec("CREATE TABLE IF NOT EXISTS gateway_tokens (gateway TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
             " created_ms INTEGER NOT NULL, created_by TEXT NOT NULL)");
  }

  void add(const AdminUser& user) override {
    require_admin_name(user.name);
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT INTO admin_users (name, role, password_hash, totp_secret, totp_confirmed) VALUES (?,?,?,?,?)");
    s.bind(1, user.name).bind(2, to_string(user.role)).bind(3, user.password_hash).bind_blob(4, user.totp_secret);
    s.bind(5, std::int64_t{user.totp_confirmed});
    try {
      s.step();
    } catch (const sqlite::SqliteError& e) {
      if (e.constraint()) throw AdminError("an admin of that name exists already");
      throw;
    }
  }

  std::optional<AdminUser> find(std::string_view name) const override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT name, role, password_hash, totp_secret, totp_confirmed FROM admin_users WHERE name = ?");
    s.bind(1, name);
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
    s.bind(1, name);
    s.step();
  }

  void record(const AuditEntry& e) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT INTO admin_audit (at_ms, actor, action, target, address, outcome) VALUES (?,?,?,?,?,?)");
    s.bind(1, e.at_ms).bind(2, e.actor).bind(3, e.action).bind(4, e.target).bind(5, e.address);
    s.bind(6, e.outcome);
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

  void add_gateway_token(const IssuedGatewayToken& t) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT INTO gateway_tokens (gateway, token_hash, created_ms, created_by) VALUES (?,?,?,?)");
    s.bind(1, t.gateway).bind(2, t.token_hash).bind(3, t.created_ms).bind(4, t.created_by);
    try {
      s.step();
    } catch (const sqlite::SqliteError& e) {
      if (e.constraint()) throw AdminError("gateway " + t.gateway + " has a token already; revoke it first");
      throw;
    }
  }

  bool remove_gateway_token(std::string_view gateway) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "DELETE FROM gateway_tokens WHERE gateway = ?");
    s.bind(1, gateway);
    s.step();
    return db_.changes() > 0;
  }

  std::vector<IssuedGatewayToken> gateway_tokens() const override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT gateway, token_hash, created_ms, created_by FROM gateway_tokens ORDER BY gateway");
    std::vector<IssuedGatewayToken> out;
    while (s.step()) out.push_back({s.text(0), s.text(1), s.integer(2), s.text(3)});
    return out;
  }

 private:
  mutable sqlite::Database db_;  // its statements change state even to read
  mutable std::mutex mutex_;
};

}  // namespace

std::unique_ptr<AdminStore> open_sqlite_admin_store(const std::filesystem::path& db_file) {
  return std::make_unique<SqliteAdminStore>(db_file);
}

}  // namespace umstore::admin
