// umstore db: the database backend. `migrate` applies the numbered
// migrations this build knows (safe from several nodes at once, and to run
// again); the server checks the schema at start and refuses one it does not
// know. `copy` moves an installation's embedded store into the database.
#include <iostream>

#include "commands.hpp"
#include "mailstore/sqlite_account_store.hpp"
#include "mailstore/store.hpp"
#include "mailstore/store_copy.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kDbUsage = R"(usage:
  umstore --config FILE db migrate    bring the database schema up to this version
  umstore --config FILE db copy       copy the embedded store of the data directory
                                      (DATA_DIR/mail and accounts.db) into the database

copy keeps every account (its password hash as stored), mailbox setting,
folder, subscription and message with its UIDVALIDITY, UID, flags, keywords
and date, so IMAP clients do not download everything again. Run it again to
resume or to take what arrived since; stop the server on the data directory
first.

Needs [store] backend = postgresql and [store] dsn in the config file. The
password comes from a libpq passfile (passfile=... in the dsn, or ~/.pgpass)
or PGPASSWORD, never from the command line.
)";

}  // namespace

namespace {

void copy_embedded_store(const Settings& s) {
  auto target = mailstore::open_store(s.store());
  mailstore::SqliteAccountStore source_accounts(s.data.accounts_db());
  auto source_mail = mailstore::open_maildir_store(s.data.mail());
  const auto report = mailstore::copy_store({*source_mail, source_accounts}, {*target.mail, *target.accounts},
                                            [](const std::string& line) { std::cout << line << "\n"; });
  std::cout << "copied " << report.messages_copied << " message(s) in " << report.folders << " folder(s); " << report.messages_already_there << " were there already; "
            << report.accounts_added << " account(s) added\n";
}

}  // namespace

int run_db(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{}, {}}));
  if (cmd.printed_help(kDbUsage)) return 0;
  const auto& pos = cmd.positionals();
  if (pos.size() != 1 || (pos[0] != "migrate" && pos[0] != "copy"))
    throw UsageError("db needs a subcommand: migrate or copy");
  const Settings s = load_settings(cmd);
  if (s.store_backend != mailstore::StoreBackend::postgresql)
    throw UsageError("the store is Maildir, which has no database ([store] backend = postgresql selects the database)");
  if (pos[0] == "copy") {
    copy_embedded_store(s);
    return 0;
  }
  const int applied = mailstore::migrate_store(s.store());
  std::cout << (applied == 0 ? "the schema is up to date" : "applied " + std::to_string(applied) + " migration(s)")
            << "\n";
  return 0;
}

}  // namespace umstore::app
