#include "mailstore/store.hpp"

#include "mailstore/sqlite_account_store.hpp"

namespace umstore::mailstore {

OpenedStore open_store(const StoreSettings& settings) {
  // StoreBackend::maildir is the only backend so far.
  return {open_maildir_store(settings.maildir_root), std::make_unique<SqliteAccountStore>(settings.accounts_db)};
}

}  // namespace umstore::mailstore
