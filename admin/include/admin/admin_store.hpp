#pragma once
// Admin accounts (who may use the admin console and API, with which role,
// their Argon2id password hash and TOTP secret) and the audit log of what
// they did, kept durably next to the mailbox accounts: in accounts.db for
// the embedded store, in the database for the PostgreSQL backend.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace umstore::admin {

// helpdesk reads everything and resets passwords; only admin changes or deletes.
enum class Role { Admin, Helpdesk };
std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

struct AdminUser {
  std::string name;
  Role role = Role::Helpdesk;
  std::string password_hash;  // Argon2id
  std::string totp_secret;    // raw bytes (RFC 6238 key), 20 of them
  bool totp_confirmed = false;  // the user has shown one code from the secret
};

struct AuditEntry {
  std::int64_t id = 0;
  std::int64_t at_ms = 0;     // Unix time, milliseconds
  std::string actor;          // admin name, or "-" before a login
  std::string action;         // "login", "mailbox.create", "message.play", ...
  std::string target;         // what it acted on: a number, a queue id, "+15550100/INBOX/3"
  std::string address;        // the client's IP address
  std::string outcome;        // "ok" or why it was refused
};

// A gateway's bearer token issued in the console: only its hash is kept
// (auth/gateway_tokens.hpp); the token itself is shown once.
struct IssuedGatewayToken {
  std::string gateway;        // its name, as in [gateways]
  std::string token_hash;     // SHA-256, hex
  std::int64_t created_ms = 0;
  std::string created_by;     // the admin
};

// A request the store refuses; what() is a sentence an administrator can act on.
class AdminError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class AdminStore {
 public:
  virtual ~AdminStore() = default;
  // Throws AdminError when the name is taken or not acceptable.
  virtual void add(const AdminUser& user) = 0;
  virtual std::optional<AdminUser> find(std::string_view name) const = 0;
  virtual std::vector<AdminUser> list() const = 0;
  virtual void confirm_totp(std::string_view name) = 0;
  // Durable (committed) when it returns.
  virtual void record(const AuditEntry& entry) = 0;
  // Newest first, ids below `before_id` (0: from the newest).
  virtual std::vector<AuditEntry> audit(std::size_t limit, std::int64_t before_id = 0) const = 0;
  // Throws AdminError when the gateway has an issued token already.
  virtual void add_gateway_token(const IssuedGatewayToken& token) = 0;
  virtual bool remove_gateway_token(std::string_view gateway) = 0;  // false: it had none
  virtual std::vector<IssuedGatewayToken> gateway_tokens() const = 0;
};

std::unique_ptr<AdminStore> open_sqlite_admin_store(const std::filesystem::path& db_file);
std::unique_ptr<AdminStore> open_postgresql_admin_store(const std::string& conninfo);

// Names: 1-64 of letters, digits, '.', '_', '-'. Throws AdminError.
void require_admin_name(std::string_view name);

}  // namespace umstore::admin
