#pragma once
// Opening the store a configuration names: every command in app/ calls
// open_store, so a second backend is one more case here, not a change in
// the commands.
#include <filesystem>
#include <memory>

#include "mailstore/account_store.hpp"
#include "mailstore/mail_store.hpp"

namespace umstore::mailstore {

enum class StoreBackend {
  maildir,     // the embedded store: messages in Maildir, accounts in SQLite
  postgresql,  // messages and accounts in PostgreSQL
};

struct StoreSettings {
  StoreBackend backend = StoreBackend::maildir;
  std::filesystem::path maildir_root;  // maildir: the directory of the mailboxes
  std::filesystem::path accounts_db;   // maildir: the SQLite account database
  // postgresql: a libpq connection string or URI; several hosts may be
  // named ("host=a,b target_session_attrs=read-write"). The password comes
  // from a passfile (passfile=...), ~/.pgpass or PGPASSWORD, never from here.
  std::string postgresql_dsn;
  std::size_t postgresql_pool_size = 16;  // connections for message work, per process
  bool text_index = true;  // a full-text index per folder (MaildirOptions; postgresql: open_postgresql_store)
  std::size_t postgresql_accounts_pool_size = 4;  // connections for accounts (logins), per process
  std::size_t mailboxes_in_memory = 1000;  // maildir: MaildirOptions::mailboxes_in_memory
};

struct OpenedStore {
  std::unique_ptr<MailStore> mail;
  std::unique_ptr<AccountStore> accounts;
};

// Throws AccountError or TemporaryFailure with a sentence naming what
// could not be opened.
OpenedStore open_store(const StoreSettings& settings);

// Brings the backend's schema up to what this build needs (PostgreSQL:
// numbered migrations, safe to run from several nodes at once); returns
// how many steps it applied. The Maildir backend has nothing to migrate.
int migrate_store(const StoreSettings& settings);

}  // namespace umstore::mailstore
