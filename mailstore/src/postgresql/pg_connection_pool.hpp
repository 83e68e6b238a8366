#pragma once
// The backend's use of the shared PostgreSQL connection layer (pgsql/):
// its names in this namespace, and how a lost database becomes the store's
// TemporaryFailure.
#include "mailstore/folder.hpp"
#include "pgsql/connection_pool.hpp"

namespace umstore::mailstore::pg {

using pgsql::Connection;
using pgsql::ConnectionPool;
using pgsql::IntParam;
using pgsql::Notification;
using pgsql::Param;
using pgsql::PgError;
using pgsql::quote_identifier;
using pgsql::Result;
using pgsql::Transaction;

// Runs `work(connection)`, turning a lost connection into TemporaryFailure
// (SMTP 451 4.3.0, IMAP NO [UNAVAILABLE], an ingest retry); a statement the
// server refused stays a PgError (a bug or a constraint, not an outage).
template <typename Work>
auto with_connection(ConnectionPool& pool, Work&& work) -> decltype(work(std::declval<Connection&>())) {
  try {
    auto c = pool.lease();
    return work(*c);
  } catch (const PgError& e) {
    if (e.connection_lost()) throw TemporaryFailure(e.what());
    throw;
  }
}

}  // namespace umstore::mailstore::pg
