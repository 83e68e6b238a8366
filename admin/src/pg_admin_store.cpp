// Admin accounts and the audit log in the PostgreSQL backend's database
// (tables admin_users and admin_audit, made when missing), so every node
// shares them. One connection, reopened when it broke.
#include <sodium.h>

#include <mutex>

#include "admin/admin_store.hpp"
#include "pgsql/connection.hpp"

namespace umstore::admin {
namespace {

using pgsql::Param;

std::string to_hex(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  out.pop_back();
  return out;
}

std::string from_hex(std::string_view hex) {
  std::string out(hex.size() / 2, '\0');
  std::size_t length = 0;
  sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(), hex.size(), nullptr, &length,
                 nullptr);
  out.resize(length);
  return out;
}

AdminUser user_from(const pgsql::Result& r, int row) {
  return {r.text(row, 0), parse_role(r.view(row, 1)).value_or(Role::Helpdesk), r.text(row, 2), from_hex(r.view(row, 3)),
          r.boolean(row, 4)};
}

class PgAdminStore final : public AdminStore {
 public:
  explicit PgAdminStore(std::string conninfo) : conninfo_(std::move(conninfo)) {
    auto& c = connection();
    c.exec("CREATE TABLE IF NOT EXISTS admin_users (name TEXT PRIMARY KEY, role TEXT NOT NULL,"
           " password_hash TEXT NOT NULL, totp_secret TEXT NOT NULL, totp_confirmed BOOLEAN NOT NULL DEFAULT false)");
    c.exec("CREATE TABLE IF NOT EXISTS admin_audit (id BIGSERIAL PRIMARY KEY, at_ms BIGINT NOT NULL,"
           " actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, address TEXT NOT NULL, outcome TEXT NOT NULL)");
    c.exec("CREATE TABLE IF NOT EXISTS gateway_tokens (gateway TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
           " created_ms BIGINT NOT NULL, created_by TEXT NOT NULL)");
  }

  void add(const AdminUser& u) override {
    require_admin_name(u.name);
    std::lock_guard lock(mutex_);
    const std::string secret = to_hex(u.totp_secret);
    try {
      connection().exec("INSERT INTO admin_users (name, role, password_hash, totp_secret, totp_confirmed) VALUES ($1,$2,$3,$4,$5)",
                        {Param::text(u.name), Param::text(to_string(u.role)), Param::text(u.password_hash),
                         Param::text(secret), Param::text(u.totp_confirmed ? "true" : "false")});
    } catch (const pgsql::PgError& e) {
      if (e.unique_violation()) throw AdminError("an admin of that name exists already");
      throw;
    }
  }

  std::optional<AdminUser> find(std::string_view name) const override {
    std::lock_guard lock(mutex_);
    auto r = connection().exec(
        "SELECT name, role, password_hash, totp_secret, totp_confirmed FROM admin_users WHERE name = $1", {Param::text(name)});
    if (r.rows() == 0) return std::nullopt;
    return user_from(r, 0);
  }

  std::vector<AdminUser> list() const override {
    std::lock_guard lock(mutex_);
    auto r = connection().exec("SELECT name, role, password_hash, totp_secret, totp_confirmed FROM admin_users ORDER BY name");
    std::vector<AdminUser> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(user_from(r, i));
    return out;
  }

  void confirm_totp(std::string_view name) override {
    std::lock_guard lock(mutex_);
    connection().exec("UPDATE admin_users SET totp_confirmed = true WHERE name = $1", {Param::text(name)});
  }

  void record(const AuditEntry& e) override {
    std::lock_guard lock(mutex_);
    connection().exec("INSERT INTO admin_audit (at_ms, actor, action, target, address, outcome) VALUES ($1,$2,$3,$4,$5,$6)",
                      {pgsql::IntParam(e.at_ms), Param::text(e.actor), Param::text(e.action), Param::text(e.target),
                       Param::text(e.address), Param::text(e.outcome)});
  }

  std::vector<AuditEntry> audit(std::size_t limit, std::int64_t before_id) const override {
    std::lock_guard lock(mutex_);
    auto r = connection().exec(
        "SELECT id, at_ms, actor, action, target, address, outcome FROM admin_audit"
        " WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2",
        {pgsql::IntParam(before_id), pgsql::IntParam(static_cast<std::int64_t>(limit))});
    std::vector<AuditEntry> out;
    for (int i = 0; i < r.rows(); ++i)
      out.push_back({r.integer(i, 0), r.integer(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4), r.text(i, 5), r.text(i, 6)});
    return out;
  }

  void add_gateway_token(const IssuedGatewayToken& t) override {
    std::lock_guard lock(mutex_);
    try {
      connection().exec("INSERT INTO gateway_tokens (gateway, token_hash, created_ms, created_by) VALUES ($1,$2,$3,$4)",
                        {Param::text(t.gateway), Param::text(t.token_hash), pgsql::IntParam(t.created_ms),
                         Param::text(t.created_by)});
    } catch (const pgsql::PgError& e) {
      if (e.unique_violation()) throw AdminError("gateway " + t.gateway + " has a token already; revoke it first");
      throw;
    }
  }

  bool remove_gateway_token(std::string_view gateway) override {
    std::lock_guard lock(mutex_);
    return connection().exec("DELETE FROM gateway_tokens WHERE gateway = $1 RETURNING gateway", {Param::text(gateway)}).rows() > 0;
  }

  std::vector<IssuedGatewayToken> gateway_tokens() const override {
    std::lock_guard lock(mutex_);
    auto r = connection().exec("SELECT gateway, token_hash, created_ms, created_by FROM gateway_tokens ORDER BY gateway");
    std::vector<IssuedGatewayToken> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.text(i, 1), r.integer(i, 2), r.text(i, 3)});
    return out;
  }

 private:
  pgsql::Connection& connection() const {
    if (!connection_ || !connection_->healthy()) connection_.emplace(conninfo_);
    return *connection_;
  }
  std::string conninfo_;
  mutable std::mutex mutex_;
  mutable std::optional<pgsql::Connection> connection_;
};

}  // namespace

std::unique_ptr<AdminStore> open_postgresql_admin_store(const std::string& conninfo) {
  return std::make_unique<PgAdminStore>(conninfo);
}

}  // namespace umstore::admin
