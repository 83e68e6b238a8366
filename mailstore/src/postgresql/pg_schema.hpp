#pragma once
// The PostgreSQL backend's schema: numbered migrations, applied in order by
// `umstore db migrate`, and checked at start (a server never runs on a
// schema newer than it knows, nor on one that still needs migrating).
#include <stdexcept>
#include <string>

#include "pg_connection_pool.hpp"

namespace umstore::mailstore::pg {

// The schema this build reads and writes.
int known_schema_version() noexcept;

// The database's version; 0 when umstore's schema is not there yet.
int schema_version(Connection& c);

// Applies every migration above the database's version, each in its own
// transaction, serialised across nodes by an advisory lock. Returns the
// number applied.
int migrate(Connection& c);

// Thrown by check_schema with a message an operator can act on.
class SchemaMismatch : public std::runtime_error {
  using std::runtime_error::runtime_error;
};
void check_schema(Connection& c);

}  // namespace umstore::mailstore::pg
