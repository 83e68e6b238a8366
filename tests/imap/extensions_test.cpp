// QUOTA, ESEARCH, login throttling and IDLE noticing another process's
// delivery, over real sockets.
#include <boost/test/unit_test.hpp>

#include "test_server.hpp"

using namespace umstore::imap::test;
namespace ms = umstore::mailstore;
using umstore::imap::ImapServerConfig;

namespace {

ImapServerConfig fast_throttle(unsigned per_address) {
  umstore::auth::ThrottleLimits limits;
  limits.failure_delay = std::chrono::milliseconds(5);
  limits.max_failures_per_address = per_address;
  ImapServerConfig config;
  config.login_throttle = std::make_shared<umstore::auth::LoginThrottle>(limits);
  return config;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(extensions)

BOOST_AUTO_TEST_CASE(quota_from_the_account_and_errors) {
  TestServer server({}, 20 * 1024);  // the account's quota, applied at login
  server.mailbox()->open("INBOX")->append(text_message("quota", std::string(3000, 'q') + "\n"));
  Client c(server.port());
  BOOST_TEST(contains(c.greeting, " QUOTA QUOTA=RES-STORAGE"));
  c.login();
  auto root = c.command("q1", "GETQUOTAROOT INBOX");
  BOOST_TEST(contains(root, "* QUOTAROOT INBOX \"\"\r\n"), root);
  BOOST_TEST(contains(root, "* QUOTA \"\" (STORAGE 4 20)\r\n"), root);
  BOOST_TEST(contains(root, "q1 OK"));
  auto quota = c.command("q2", "GETQUOTA \"\"");
  BOOST_TEST(contains(quota, "* QUOTA \"\" (STORAGE 4 20)\r\n"), quota);
  BOOST_TEST(contains(c.command("q3", "GETQUOTA other"), "q3 NO [NONEXISTENT]"));
  BOOST_TEST(contains(c.command("q4", "GETQUOTAROOT Nope"), "q4 NO [NONEXISTENT]"));
  BOOST_TEST(contains(c.command("q5", "SETQUOTA \"\" (STORAGE 1)"), "q5 NO [NOPERM]"));
  BOOST_TEST(contains(c.command("q6", "GETQUOTA"), "q6 BAD"));
  // APPEND past the limit is refused with the RFC 9208 response code.
  const std::string big = text_message("big", std::string(20 * 1024, 'b') + "\n");
  c.send("q7 APPEND INBOX {" + std::to_string(big.size()) + "+}\r\n" + big + "\r\n");
  BOOST_TEST(contains(c.until_tagged("q7"), "q7 NO [OVERQUOTA]"));
  BOOST_TEST(server.mailbox()->quota().limit_bytes == 20u * 1024);
}

BOOST_AUTO_TEST_CASE(quota_reports_messages_beside_storage) {
  TestServer server({}, 20 * 1024);
  server.mailbox()->set_count_limits(2, 0);
  server.mailbox()->open("INBOX")->append(text_message("one", std::string(3000, 'q') + "\n"));
  Client c(server.port());
  BOOST_TEST(contains(c.greeting, " QUOTA=RES-MESSAGE"));
  c.login();
  auto root = c.command("m1", "GETQUOTAROOT INBOX");
  BOOST_TEST(contains(root, "* QUOTA \"\" (STORAGE 4 20 MESSAGE 1 2)\r\n"), root);
  server.mailbox()->open("INBOX")->append(text_message("two"));
  const std::string third = text_message("three");
  c.send("m2 APPEND INBOX {" + std::to_string(third.size()) + "+}\r\n" + third + "\r\n");
  BOOST_TEST(contains(c.until_tagged("m2"), "m2 NO [OVERQUOTA]"));
}

BOOST_AUTO_TEST_CASE(unlimited_quota_has_no_resources) {
  TestServer server;
  Client c(server.port());
  c.login();
  BOOST_TEST(contains(c.command("u1", "GETQUOTAROOT INBOX"), "* QUOTA \"\" ()\r\n"));
}

BOOST_AUTO_TEST_CASE(esearch_return_options) {
  TestServer server;
  auto inbox = server.mailbox()->open("INBOX");
  for (int i = 1; i <= 6; ++i) inbox->append(text_message("m" + std::to_string(i)), i == 4 ? ms::kSeen : 0);
  Client c(server.port());
  c.login();
  c.command("s0", "SELECT INBOX");
  auto r = c.command("s1", "SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN");
  BOOST_TEST(contains(r, "* ESEARCH (TAG \"s1\") MIN 1 MAX 6 COUNT 5 ALL 1:3,5:6\r\n"), r);
  BOOST_TEST(!contains(r, "* SEARCH"));
  r = c.command("s2", "UID SEARCH RETURN () CHARSET UTF-8 SEEN");
  BOOST_TEST(contains(r, "* ESEARCH (TAG \"s2\") UID ALL 4\r\n"), r);
  r = c.command("s3", "SEARCH RETURN (COUNT MIN) SUBJECT nothing-like-this");
  BOOST_TEST(contains(r, "* ESEARCH (TAG \"s3\") COUNT 0\r\n"), r);
  BOOST_TEST(contains(c.command("s4", "SEARCH RETURN (RELEVANCY) ALL"), "s4 BAD"));  // no SEARCH=FUZZY; UPDATE: context-search.imap
  BOOST_TEST(contains(c.command("s5", "SEARCH RETURN ALL"), "s5 BAD"));
  BOOST_TEST(contains(c.command("s6", "SEARCH 2:3"), "* SEARCH 2 3\r\n"));  // plain SEARCH unchanged
}

BOOST_AUTO_TEST_CASE(failed_logins_for_a_user_never_lock_its_owner_out_from_another_address) {
  TestServer server(fast_throttle(100));
  {
    Client c(server.port());
    for (const char* tag : {"f1", "f2", "f3", "f4"})
      BOOST_TEST(contains(c.command(tag, "LOGIN +15550100 wrong"), std::string(tag) + " NO [AUTHENTICATIONFAILED]"));
  }
  Client owner(server.port(), "127.0.0.2");
  owner.login();
}

BOOST_AUTO_TEST_CASE(failed_logins_limited_per_address) {
  TestServer server(fast_throttle(2));
  Client c(server.port());
  BOOST_TEST(contains(c.command("g1", "LOGIN +15550111 x"), "g1 NO [AUTHENTICATIONFAILED]"));
  c.send("g2 AUTHENTICATE PLAIN ACsxNTU1MDExMgB4\r\n");  // "\0+15550112\0x"
  BOOST_TEST(contains(c.until_tagged("g2"), "g2 NO [AUTHENTICATIONFAILED]"));
  auto refused = c.command("g3", std::string("LOGIN ") + kUser + " \"" + kPassword + "\"");
  BOOST_TEST(contains(refused, "g3 NO [UNAVAILABLE]"), refused);
  Client other(server.port(), "127.0.0.2");  // only the guessing address is refused
  other.login();
}

BOOST_AUTO_TEST_CASE(idle_sees_delivery_by_another_process) {
  TestServer server;
  Client c(server.port());
  c.login();
  BOOST_TEST(contains(c.command("i1", "SELECT INBOX"), "* 0 EXISTS"));
  c.send("i2 IDLE\r\n");
  BOOST_TEST(c.line().starts_with("+ "));
  // A second store object on the same directory has its own caches and
  // listeners, exactly like another process (umstore ingest, a Maildir tool).
  auto other = ms::open_maildir_store(server.dir() / "mail");
  other->deliver(kUser, voice_message());
  BOOST_TEST(c.line() == "* 1 EXISTS");
  BOOST_TEST(c.line() == "* 1 RECENT");
  c.send("DONE\r\n");
  BOOST_TEST(contains(c.until_tagged("i2"), "i2 OK"));
  // NOOP also looks at the disk: a flag change by the other store shows.
  other->user(kUser)->open("INBOX")->change_flags(std::vector<std::uint32_t>{1}, ms::FlagChange::Add, ms::kFlagged);
  auto noop = c.command("i3", "NOOP");
  BOOST_TEST(contains(noop, "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))"), noop);
}

BOOST_AUTO_TEST_SUITE_END()
