// umstore admin: the accounts of the admin console and API (admin/).
#include <iostream>

#include "admin/admin_store.hpp"
#include "admin/totp.hpp"
#include "common/durable_file.hpp"
#include "commands.hpp"
#include "mailstore/password_hash.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kAdminUsage = R"(usage:
  umstore [--data-dir DIR] [--config FILE] admin add NAME --role admin|helpdesk
  umstore [--data-dir DIR] [--config FILE] admin list

add reads the password from standard input (asked for, without echo, on a
terminal) and prints the TOTP key and its otpauth:// URI; the console also
shows it as a QR code at the first login, which asks for one code from the
authenticator app before anything else opens. A helpdesk account reads
everything and resets mailbox passwords; only an admin changes or deletes.
)";

}  // namespace

std::unique_ptr<admin::AdminStore> open_admin_store(const Settings& s) {
  if (s.store_backend == mailstore::StoreBackend::postgresql) return admin::open_postgresql_admin_store(s.store_dsn);
  create_directories_durably(s.data.root);
  return admin::open_sqlite_admin_store(s.data.accounts_db());
}

int run_admin(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{"--role"}, {}}));
  if (cmd.printed_help(kAdminUsage)) return 0;
  const auto& words = cmd.positionals();
  if (words.empty()) throw UsageError("admin needs a subcommand: add or list");
  const Settings s = load_settings(cmd);
  const auto store = open_admin_store(s);
  if (words[0] == "list") {
    for (const auto& user : store->list())
      std::cout << user.name << "  " << admin::to_string(user.role)
                << (user.totp_confirmed ? "" : "  (TOTP not confirmed yet)") << "\n";
    return 0;
  }
  if (words[0] != "add" || words.size() != 2) throw UsageError("admin add NAME --role admin|helpdesk, or admin list");
  const auto role = admin::parse_role(cmd.value("--role").value_or(""));
  if (!role) throw UsageError("--role is admin or helpdesk");
  admin::require_admin_name(words[1]);
  admin::AdminUser user{words[1], *role, mailstore::hash_password(read_password_from_stdin()), admin::new_totp_secret(), false};
  store->add(user);
  std::cout << "admin " << user.name << " added (" << admin::to_string(user.role) << ")\n"
            << "TOTP key: " << admin::base32(user.totp_secret) << "\n"
            << "TOTP URI: " << admin::otpauth_uri(user.name, user.totp_secret) << "\n";
  return 0;
}

}  // namespace umstore::app
