// The libpq layer and the schema migrations against a real, private
// PostgreSQL cluster (UMSTORE_TEST_PG_DSN, set by tests/peers/postgres_peer.py).
#define BOOST_TEST_MODULE mailstore_postgresql
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <string>
#include <thread>

#include "pg_schema.hpp"
#include "pg_test_support.hpp"

using namespace umstore::mailstore::pg;
using umstore::mailstore::pg::test_dsn;


BOOST_AUTO_TEST_CASE(migrations_apply_once_and_the_schema_is_then_current) {
  FreshSchema db("migrate_once");
  BOOST_TEST(schema_version(db.c) == 0);
  BOOST_CHECK_THROW(check_schema(db.c), SchemaMismatch);
  BOOST_TEST(migrate(db.c) == known_schema_version());
  BOOST_TEST(migrate(db.c) == 0);
  BOOST_TEST(schema_version(db.c) == known_schema_version());
  BOOST_CHECK_NO_THROW(check_schema(db.c));
}

BOOST_AUTO_TEST_CASE(a_schema_newer_than_this_build_is_refused_with_a_reason) {
  FreshSchema db("too_new");
  migrate(db.c);
  db.c.exec("INSERT INTO umstore_schema (version) VALUES ($1)", {IntParam(known_schema_version() + 1)});
  try {
    check_schema(db.c);
    BOOST_FAIL("a newer schema was accepted");
  } catch (const SchemaMismatch& e) {
    BOOST_TEST(std::string(e.what()).find("newer than this umstore") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(bytes_round_trip_octet_for_octet) {
  FreshSchema db("bytes");
  db.c.exec("CREATE TABLE b (data bytea)");
  const std::string octets("a\0b\r\n\xff\x80 end", 11);
  db.c.exec("INSERT INTO b VALUES ($1)", {Param::bytes(octets)});
  const auto r = db.c.exec("SELECT encode(data, 'hex'), length(data) FROM b");
  BOOST_TEST(r.integer(0, 1) == 11);
  BOOST_TEST(r.text(0, 0) == "6100620d0aff8020656e64");
}

BOOST_AUTO_TEST_CASE(a_transaction_not_committed_is_rolled_back) {
  FreshSchema db("rollback");
  db.c.exec("CREATE TABLE t (x integer)");
  {
    Transaction t(db.c);
    db.c.exec("INSERT INTO t VALUES (1)");
  }
  {
    Transaction t(db.c);
    db.c.exec("INSERT INTO t VALUES (2)");
    t.commit();
  }
  const auto r = db.c.exec("SELECT string_agg(x::text, ',') FROM t");
  BOOST_TEST(r.text(0, 0) == "2");
}

BOOST_AUTO_TEST_CASE(errors_carry_their_sqlstate) {
  FreshSchema db("errors");
  db.c.exec("CREATE TABLE u (x integer PRIMARY KEY)");
  db.c.exec("INSERT INTO u VALUES (1)");
  try {
    db.c.exec("INSERT INTO u VALUES (1)");
    BOOST_FAIL("a duplicate key was accepted");
  } catch (const PgError& e) {
    BOOST_TEST(e.unique_violation());
    BOOST_TEST(!e.connection_lost());
  }
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_a_lost_connection_naming_the_host) {
  try {
    Connection c("host=127.0.0.1 port=1 dbname=x user=x", std::chrono::seconds(2));
    BOOST_FAIL("connected to port 1");
  } catch (const PgError& e) {
    BOOST_TEST(e.connection_lost());
    BOOST_TEST(std::string(e.what()).find("127.0.0.1") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(notifications_reach_a_listening_connection) {
  Connection listener(test_dsn());
  Connection sender(test_dsn());
  listener.listen("umstore_test");
  sender.exec("SELECT pg_notify('umstore_test', 'folder 7')");
  std::vector<Notification> got;
  for (int i = 0; i < 100 && got.empty(); ++i) {
    got = listener.take_notifications();
    if (got.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_TEST(got[0].channel == "umstore_test");
  BOOST_TEST(got[0].payload == "folder 7");
}
