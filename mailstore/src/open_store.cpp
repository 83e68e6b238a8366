#include "mailstore/store.hpp"

#include "mailstore/sqlite_account_store.hpp"
#include "postgresql/pg_account_store.hpp"
#include "postgresql/pg_schema.hpp"

namespace umstore::mailstore {

OpenedStore open_store(const StoreSettings& settings) {
  switch (settings.backend) {
    case StoreBackend::postgresql: {
      // checks the schema first
      auto mail = open_postgresql_store(settings.postgresql_dsn, settings.postgresql_pool_size, settings.text_index);
      return {std::move(mail), open_postgresql_accounts(settings.postgresql_dsn, settings.postgresql_accounts_pool_size)};
    }
    case StoreBackend::maildir:
      break;
  }
  return {open_maildir_store(settings.maildir_root, {settings.text_index, settings.mailboxes_in_memory}), std::make_unique<SqliteAccountStore>(settings.accounts_db)};
}

int migrate_store(const StoreSettings& settings) {
  if (settings.backend != StoreBackend::postgresql) return 0;
  try {
    pg::Connection c(settings.postgresql_dsn);
    return pg::migrate(c);
  } catch (const pg::PgError& e) {
    if (e.connection_lost()) throw TemporaryFailure(e.what());
    throw;
  }
}

}  // namespace umstore::mailstore
