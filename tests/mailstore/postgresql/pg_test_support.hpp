#pragma once
// The private cluster of this test run (tests/peers/postgres_peer.py sets
// UMSTORE_TEST_PG_DSN) and a fresh schema per test, so tests do not see each
// other's tables.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <string>

#include "pg_connection_pool.hpp"
#include "pg_schema.hpp"

namespace umstore::mailstore::pg {

inline std::string test_dsn() {
  const char* value = std::getenv("UMSTORE_TEST_PG_DSN");
  BOOST_REQUIRE_MESSAGE(value, "UMSTORE_TEST_PG_DSN is not set: run through tests/peers/postgres_peer.py");
  return value;
}

// Connections opened with options that select the schema.
inline std::string dsn_in_schema(const std::string& schema) {
  return test_dsn() + "?options=-csearch_path%3D" + schema;
}

struct FreshSchema {
  std::string name;
  Connection c;
  explicit FreshSchema(std::string schema, bool migrated = false) : name(std::move(schema)), c(test_dsn()) {
    c.exec("DROP SCHEMA IF EXISTS " + quote_identifier(name) + " CASCADE");
    c.exec("CREATE SCHEMA " + quote_identifier(name));
    c = Connection(dsn_in_schema(name));
    if (migrated) migrate(c);
  }
};

}  // namespace umstore::mailstore::pg
