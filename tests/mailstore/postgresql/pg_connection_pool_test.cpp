// The pool against a real, private cluster: connections that became useless
// (a read-only server, a server that closed them) are dropped and replaced
// by themselves, a multi-host DSN reaches the host that takes writes, and
// no lease waits forever.
#include <boost/test/unit_test.hpp>

#include <string>

#include "pg_connection_pool.hpp"
#include "pg_test_support.hpp"

using namespace umstore::mailstore::pg;
using umstore::mailstore::TemporaryFailure;

namespace {

std::int64_t backend_pid(ConnectionPool& pool) {
  return with_connection(pool, [](Connection& c) { return c.exec("SELECT pg_backend_pid()").integer(0, 0); });
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(a_server_refusing_writes_is_a_temporary_failure_and_its_connection_is_dropped) {
  ConnectionPool pool(test_dsn(), 1);
  const auto first = backend_pid(pool);
  // What a primary turned standby answers (SQLSTATE 25006).
  BOOST_CHECK_THROW(with_connection(pool,
                                    [](Connection& c) {
                                      c.exec("SET default_transaction_read_only = on");
                                      return c.exec("CREATE TABLE refused (x integer)").rows();
                                    }),
                    TemporaryFailure);
  BOOST_TEST(backend_pid(pool) != first);
  BOOST_TEST(with_connection(pool, [](Connection& c) { return c.exec("SHOW default_transaction_read_only").text(0, 0); }) ==
             "off");
}

BOOST_AUTO_TEST_CASE(an_idle_connection_the_server_closed_is_replaced_without_an_error) {
  ConnectionPool pool(test_dsn(), 2);
  const auto first = backend_pid(pool);
  Connection admin(test_dsn());
  // 57P01 to the idle connection; waits until it has ended.
  admin.exec("SELECT pg_terminate_backend($1, 5000)", {IntParam(first)});
  const auto second = backend_pid(pool);  // no error reaches the caller
  BOOST_TEST(second != first);
}

BOOST_AUTO_TEST_CASE(a_lease_waits_for_a_free_connection_only_until_its_deadline) {
  ConnectionPool pool(test_dsn(), 1, std::chrono::milliseconds(300));
  auto held = pool.lease();
  try {
    pool.lease();
    BOOST_FAIL("a second lease of a pool of one was granted");
  } catch (const PgError& e) {
    BOOST_TEST(e.connection_lost());  // what callers answer as a temporary failure
    BOOST_TEST(contains(e.what(), "in use"));
  }
}

BOOST_AUTO_TEST_CASE(an_unreachable_database_is_tried_again_only_after_a_pause) {
  ConnectionPool pool("host=127.0.0.1 port=1 dbname=x user=x", 4);
  try {
    backend_pid(pool);
    BOOST_FAIL("connected to port 1");
  } catch (const TemporaryFailure& e) {
    BOOST_TEST(contains(e.what(), "127.0.0.1"));
  }
  try {
    backend_pid(pool);
    BOOST_FAIL("connected to port 1");
  } catch (const TemporaryFailure& e) {
    BOOST_TEST(contains(e.what(), "127.0.0.1"));  // the last failure, named again
    BOOST_TEST(contains(e.what(), "next attempt"));
  }
}

BOOST_AUTO_TEST_CASE(a_multi_host_dsn_reaches_the_host_that_takes_writes) {
  // postgresql://user@127.0.0.1:PORT/db: a dead host first, then the cluster.
  std::string dsn = test_dsn();
  dsn.insert(dsn.find('@') + 1, "127.0.0.1:1,");
  ConnectionPool pool(dsn + "?target_session_attrs=read-write", 1);
  const auto host = with_connection(pool, [](Connection& c) { return c.host(); });
  BOOST_TEST(!host.ends_with(":1"));
  BOOST_TEST(with_connection(pool, [](Connection& c) { return c.exec("SELECT pg_is_in_recovery()").boolean(0, 0); }) ==
             false);
}
