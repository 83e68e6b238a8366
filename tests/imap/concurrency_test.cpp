// Two sessions on one folder: IDLE push and changes seen at the next NOOP.
#include <boost/test/unit_test.hpp>

#include "test_server.hpp"

using namespace umstore::imap::test;
namespace ms = umstore::mailstore;

BOOST_AUTO_TEST_SUITE(concurrency)

BOOST_AUTO_TEST_CASE(idle_session_hears_of_new_delivery) {
  TestServer server;
  server.mailbox()->open("INBOX")->append(text_message("old"));
  Client a(server.port());
  a.login();
  BOOST_TEST(contains(a.command("a1", "SELECT INBOX"), "* 1 EXISTS"));
  a.send("a2 IDLE\r\n");
  BOOST_TEST(a.line().starts_with("+ "));
  server.store().deliver(kUser, text_message("new"));
  // The client's read gives up after 5 s; the push must come well before.
  BOOST_TEST(a.line() == "* 2 EXISTS");
  BOOST_TEST(a.line() == "* 2 RECENT");  // "old" became recent at SELECT, "new" now
  a.send("DONE\r\n");
  BOOST_TEST(contains(a.until_tagged("a2"), "a2 OK"));
  auto f = a.command("a3", "FETCH 2 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
  BOOST_TEST(contains(f, "FLAGS (\\Recent)"));
  BOOST_TEST(contains(f, "Subject: new"));
}

BOOST_AUTO_TEST_CASE(expunge_and_flags_reach_other_session_at_noop) {
  TestServer server;
  auto inbox = server.mailbox()->open("INBOX");
  for (auto s : {"m1", "m2", "m3"}) inbox->append(text_message(s));
  Client a(server.port());
  Client b(server.port());
  a.login();
  b.login();
  BOOST_TEST(contains(a.command("a1", "SELECT INBOX"), "* 3 EXISTS"));
  BOOST_TEST(contains(b.command("b1", "SELECT INBOX"), "* 3 EXISTS"));
  BOOST_TEST(contains(a.command("a2", "STORE 2 +FLAGS.SILENT (\\Deleted)"), "a2 OK"));
  BOOST_TEST(contains(a.command("a3", "STORE 3 +FLAGS.SILENT (\\Flagged)"), "a3 OK"));
  BOOST_TEST(contains(a.command("a4", "EXPUNGE"), "* 2 EXPUNGE"));
  // B must not see EXPUNGE during FETCH, but may see flag changes
  auto f = b.command("b2", "FETCH 1:3 UID");
  BOOST_TEST(!contains(f, "EXPUNGE"));
  BOOST_TEST(contains(f, "* 3 FETCH (UID 3)"));
  auto noop = b.command("b3", "NOOP");
  BOOST_TEST(contains(noop, "* 2 EXPUNGE"));
  BOOST_TEST(contains(b.command("b4", "FETCH 1:* UID"), "* 2 FETCH (UID 3)"));
  BOOST_TEST(contains(b.command("b5", "SEARCH FLAGGED"), "* SEARCH 2\r\n"));
  // new message from A's APPEND reaches B at NOOP
  std::string msg = text_message("m4");
  a.send("a5 APPEND INBOX {" + std::to_string(msg.size()) + "+}\r\n" + msg + "\r\n");
  BOOST_TEST(contains(a.until_tagged("a5"), "* 3 EXISTS"));
  BOOST_TEST(contains(b.command("b6", "NOOP"), "* 3 EXISTS"));
}

BOOST_AUTO_TEST_CASE(idle_session_sees_expunge_and_flag_change) {
  TestServer server;
  auto inbox = server.mailbox()->open("INBOX");
  for (auto s : {"m1", "m2"}) inbox->append(text_message(s));
  Client a(server.port());
  a.login();
  a.command("a1", "SELECT INBOX");
  a.send("a2 IDLE\r\n");
  BOOST_TEST(a.line().starts_with("+ "));
  std::vector<std::uint32_t> one{1};
  inbox->change_flags(one, ms::FlagChange::Add, ms::kSeen | ms::kDeleted);
  BOOST_TEST(a.line() == "* 1 FETCH (UID 1 FLAGS (\\Seen \\Deleted \\Recent))");
  inbox->expunge();
  BOOST_TEST(a.line() == "* 1 EXPUNGE");
  a.send("DONE\r\n");
  BOOST_TEST(contains(a.until_tagged("a2"), "a2 OK"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(idle_lifecycle)

BOOST_AUTO_TEST_CASE(client_vanishing_during_idle_leaves_server_healthy) {
  TestServer server;
  {
    Client a(server.port());
    a.login();
    a.command("a1", "SELECT INBOX");
    a.send("a2 IDLE\r\n");
    BOOST_TEST(a.line().starts_with("+ "));
  }  // closed without DONE
  server.store().deliver(kUser, text_message("after"));
  Client b(server.port());
  b.login();
  BOOST_TEST(contains(b.command("b1", "SELECT INBOX"), "* 1 EXISTS"));
  b.send("b2 IDLE\r\n");
  BOOST_TEST(b.line().starts_with("+ "));
  b.send("NOT-DONE\r\n");
  BOOST_TEST(contains(b.until_tagged("b2"), "b2 BAD"));
  BOOST_TEST(contains(b.command("b3", "NOOP"), "b3 OK"));
}

BOOST_AUTO_TEST_SUITE_END()
