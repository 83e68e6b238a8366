#pragma once
// Accounts in the PostgreSQL database (internal): the `accounts` table,
// with the quota in the mailbox's row that every append checks in its own
// transaction, so every node sees the same accounts and limits.
#include <memory>
#include <string>

#include "mailstore/account_store.hpp"

namespace umstore::mailstore {

// Throws TemporaryFailure naming the host when the database cannot be reached.
// Logins and the admin CLI only: a few connections are plenty.
std::unique_ptr<AccountStore> open_postgresql_accounts(const std::string& conninfo, std::size_t pool_size = 4);

}  // namespace umstore::mailstore
