// umstore db: the database backend's schema. `migrate` applies the numbered
// migrations this build knows (safe from several nodes at once, and to run
// again); the server checks the schema at start and refuses one it does not
// know.
#include <iostream>

#include "commands.hpp"
#include "mailstore/store.hpp"
#include "settings.hpp"

namespace umstore::app {
namespace {

constexpr const char* kDbUsage = R"(usage:
  umstore --config FILE db migrate    bring the database schema up to this version

Needs [store] backend = postgresql and [store] dsn in the config file. The
password comes from a libpq passfile (passfile=... in the dsn, or ~/.pgpass)
or PGPASSWORD, never from the command line.
)";

}  // namespace

int run_db(std::span<const std::string> args) {
  CommandLine cmd(args, with_global_options({{}, {}}));
  if (cmd.printed_help(kDbUsage)) return 0;
  const auto& pos = cmd.positionals();
  if (pos.size() != 1 || pos[0] != "migrate") throw UsageError("db needs a subcommand: migrate");
  const Settings s = load_settings(cmd);
  if (s.store_backend != mailstore::StoreBackend::postgresql)
    throw UsageError("the store is Maildir, which has no schema to migrate ([store] backend = postgresql selects the database)");
  const int applied = mailstore::migrate_store(s.store());
  std::cout << (applied == 0 ? "the schema is up to date" : "applied " + std::to_string(applied) + " migration(s)")
            << "\n";
  return 0;
}

}  // namespace umstore::app
