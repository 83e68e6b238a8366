// \Recent across sessions and processes (RFC 3501 §2.3.2) and CONDSTORE
// (RFC 7162 §3.1) over real sockets.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <regex>

#include "test_server.hpp"

using namespace umstore::imap::test;
namespace ms = umstore::mailstore;

namespace {

// The number after `label` in `text`, e.g. "HIGHESTMODSEQ 17" or "MODSEQ (17)".
std::uint64_t number_after(const std::string& text, const std::string& label) {
  std::smatch m;
  const std::regex re(label + " \\(?([0-9]+)");
  BOOST_REQUIRE_MESSAGE(std::regex_search(text, m, re), label + " not in: " + text);
  return std::stoull(m[1]);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(recent_and_condstore)

BOOST_AUTO_TEST_CASE(recent_belongs_to_the_first_session_that_selects) {
  TestServer server;
  auto inbox = server.mailbox()->open("INBOX");
  inbox->append(text_message("one"));
  inbox->append(text_message("two"), ms::kSeen);
  Client a(server.port()), b(server.port()), c(server.port());
  a.login();
  b.login();
  c.login();
  BOOST_TEST(contains(c.command("c0", "STATUS INBOX (RECENT MESSAGES)"), "(RECENT 2 MESSAGES 2)"));

  // EXAMINE shows \Recent but takes it from nobody.
  auto ex = a.command("a1", "EXAMINE INBOX");
  BOOST_TEST(contains(ex, "* 2 RECENT"), ex);
  BOOST_TEST(contains(a.command("a2", "FETCH 1:* FLAGS"), "* 2 FETCH (FLAGS (\\Seen \\Recent))"));

  auto sel_b = b.command("b1", "SELECT INBOX");
  BOOST_TEST(contains(sel_b, "* 2 RECENT"), sel_b);
  auto fetch_b = b.command("b2", "FETCH 1:* FLAGS");
  BOOST_TEST(contains(fetch_b, "* 1 FETCH (FLAGS (\\Recent))"));
  BOOST_TEST(contains(fetch_b, "* 2 FETCH (FLAGS (\\Seen \\Recent))"));
  BOOST_TEST(contains(b.command("b3", "SEARCH RECENT"), "* SEARCH 1 2\r\n"));
  BOOST_TEST(contains(b.command("b4", "SEARCH NEW"), "* SEARCH 1\r\n"));
  BOOST_TEST(contains(b.command("b5", "SEARCH OLD"), "* SEARCH\r\n"));

  // B took them: a later SELECT gets none, STATUS counts none.
  BOOST_TEST(contains(c.command("c1", "STATUS INBOX (RECENT)"), "(RECENT 0)"));
  auto sel_c = c.command("c2", "SELECT INBOX");
  BOOST_TEST(contains(sel_c, "* 0 RECENT"), sel_c);
  BOOST_TEST(contains(c.command("c3", "FETCH 1 FLAGS"), "* 1 FETCH (FLAGS ())"));
  BOOST_TEST(contains(c.command("c4", "SEARCH OLD"), "* SEARCH 1 2\r\n"));
  BOOST_TEST(contains(c.command("c5", "SEARCH RECENT"), "* SEARCH\r\n"));

  // A delivery while B and C have the folder selected: only one of them gets it.
  server.store().deliver(kUser, text_message("three"));
  auto noop_c = c.command("c6", "NOOP");
  BOOST_TEST(contains(noop_c, "* 3 EXISTS"));
  BOOST_TEST(contains(noop_c, "* 1 RECENT"), noop_c);
  auto noop_b = b.command("b6", "NOOP");
  BOOST_TEST(contains(noop_b, "* 3 EXISTS"));
  BOOST_TEST(contains(noop_b, "* 2 RECENT"), noop_b);  // its two from before, not the new one
  BOOST_TEST(contains(c.command("c7", "SEARCH RECENT"), "* SEARCH 3\r\n"));
  BOOST_TEST(contains(b.command("b7", "SEARCH RECENT"), "* SEARCH 1 2\r\n"));
  BOOST_TEST(contains(b.command("b8", "FETCH 3 FLAGS"), "* 3 FETCH (FLAGS ())"));
  // The read-only session never claims: it keeps the two it saw as recent.
  BOOST_TEST(contains(a.command("a3", "SEARCH RECENT"), "* SEARCH 1 2"));

  // A new session after everyone: nothing is recent any more.
  Client d(server.port());
  d.login();
  BOOST_TEST(contains(d.command("d1", "SELECT INBOX"), "* 0 RECENT"));
}

BOOST_AUTO_TEST_CASE(recent_is_claimed_across_processes) {
  TestServer server;
  // A second store object on the same directory behaves like another process.
  auto other = ms::open_maildir_store(server.dir() / "mail");
  other->deliver(kUser, text_message("from elsewhere"));
  auto other_inbox = other->user(kUser)->open("INBOX");
  BOOST_TEST(other_inbox->status().recent == 1u);
  Client a(server.port());
  a.login();
  BOOST_TEST(contains(a.command("a1", "SELECT INBOX"), "* 1 RECENT"));
  // The other process learns of the claim from the UID list.
  BOOST_TEST(other_inbox->status().recent == 0u);
  BOOST_TEST(other_inbox->claim_recent(2) == 2u);  // nothing left to claim
  other->deliver(kUser, text_message("second"));
  BOOST_TEST(other_inbox->claim_recent(3) == 2u);  // the other process takes UID 2
  auto noop = a.command("a2", "NOOP");
  BOOST_TEST(contains(noop, "* 2 EXISTS"));
  BOOST_TEST(contains(noop, "* 1 RECENT"), noop);
  BOOST_TEST(contains(a.command("a3", "SEARCH RECENT"), "* SEARCH 1\r\n"));
}

BOOST_AUTO_TEST_CASE(condstore_fetch_store_search_status) {
  TestServer server;
  auto inbox = server.mailbox()->open("INBOX");
  for (auto s : {"m1", "m2", "m3"}) inbox->append(text_message(s));
  Client c(server.port()), other(server.port());
  c.login();
  other.login();
  BOOST_TEST(contains(c.command("k0", "CAPABILITY"), " CONDSTORE"));
  auto enabled = c.command("k1", "ENABLE CONDSTORE X-UNKNOWN");
  BOOST_TEST(contains(enabled, "* ENABLED CONDSTORE\r\n"), enabled);
  auto sel = c.command("k2", "SELECT INBOX (CONDSTORE)");
  const std::uint64_t highest = number_after(sel, "HIGHESTMODSEQ");
  BOOST_TEST(highest > 0u);
  auto modseqs = c.command("k3", "FETCH 1:* (MODSEQ)");
  BOOST_TEST(number_after(modseqs, "\\* 3 FETCH \\(MODSEQ") == highest);
  BOOST_TEST(number_after(modseqs, "\\* 1 FETCH \\(MODSEQ") <= highest);

  // STORE raises the mod-sequence and reports it.
  auto st = c.command("k4", "STORE 2 +FLAGS (\\Flagged)");
  const std::uint64_t after_store = number_after(st, "MODSEQ");
  BOOST_TEST(after_store > highest);
  BOOST_TEST(contains(st, "* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (" + std::to_string(after_store) + "))"), st);
  // Setting a flag that is set changes nothing (RFC 7162 §3.1.11).
  auto again = c.command("k5", "STORE 2 +FLAGS (\\Flagged)");
  BOOST_TEST(number_after(again, "MODSEQ") == after_store);

  auto changed = c.command("k6", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + std::to_string(highest) + ")");
  BOOST_TEST(contains(changed, "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ (" +
                                   std::to_string(after_store) + "))"), changed);
  BOOST_TEST(!contains(changed, "* 1 FETCH"));
  BOOST_TEST(!contains(changed, "* 3 FETCH"));
  BOOST_TEST(contains(c.command("k7", "FETCH 1:* (FLAGS) (CHANGEDSINCE x)"), "k7 BAD"));

  auto search = c.command("k8", "SEARCH MODSEQ " + std::to_string(highest + 1));
  BOOST_TEST(contains(search, "* SEARCH 2 (MODSEQ " + std::to_string(after_store) + ")\r\n"), search);
  auto entry = c.command("k9", "SEARCH MODSEQ \"/flags/\\\\draft\" all " + std::to_string(highest + 1));
  BOOST_TEST(contains(entry, "* SEARCH 2 (MODSEQ "), entry);
  BOOST_TEST(contains(c.command("ka", "SEARCH MODSEQ 999999999999999999"), "* SEARCH\r\n"));
  auto esearch = c.command("kb", "UID SEARCH RETURN (ALL) MODSEQ 1");
  BOOST_TEST(contains(esearch, "* ESEARCH (TAG \"kb\") UID ALL 1:3 MODSEQ " + std::to_string(after_store)), esearch);

  // UNCHANGEDSINCE: message 2 changed after `highest`, so it fails; 1 and 3 pass.
  auto cond = c.command("kc", "STORE 1:3 (UNCHANGEDSINCE " + std::to_string(highest) + ") +FLAGS.SILENT (\\Seen)");
  BOOST_TEST(contains(cond, "kc OK [MODIFIED 2]"), cond);
  BOOST_TEST(contains(cond, "* 1 FETCH (MODSEQ ("), cond);
  BOOST_TEST(contains(cond, "* 3 FETCH (MODSEQ ("), cond);
  BOOST_TEST(!contains(cond, "* 2 FETCH"));
  BOOST_TEST(contains(c.command("kd", "FETCH 2 FLAGS"), "FLAGS (\\Flagged \\Recent)"));  // untouched
  auto zero = c.command("ke", "UID STORE 3 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($MDNSent)");
  BOOST_TEST(contains(zero, "ke OK [MODIFIED 3]"), zero);
  BOOST_TEST(contains(c.command("kf", "STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)"), "kf BAD"));

  // Another session's change arrives with its mod-sequence.
  other.command("o1", "SELECT INBOX");
  auto other_store = other.command("o2", "STORE 3 +FLAGS (\\Answered)");
  BOOST_TEST(!contains(other_store, "MODSEQ"));  // that session never enabled CONDSTORE
  auto noop = c.command("kg", "NOOP");
  BOOST_TEST(contains(noop, "* 3 FETCH (UID 3 FLAGS (\\Seen \\Answered \\Recent) MODSEQ ("), noop);

  auto status = other.command("o3", "STATUS INBOX (HIGHESTMODSEQ MESSAGES)");
  const std::uint64_t now_highest = number_after(status, "HIGHESTMODSEQ");
  BOOST_TEST(now_highest >= number_after(noop, "MODSEQ"));
  BOOST_TEST(contains(status, "MESSAGES 3)"));
  // A UID EXPUNGE raises HIGHESTMODSEQ too.
  c.command("kh", "STORE 1 +FLAGS.SILENT (\\Deleted)");
  c.command("ki", "EXPUNGE");
  BOOST_TEST(number_after(c.command("kj", "STATUS INBOX (HIGHESTMODSEQ)"), "HIGHESTMODSEQ") > now_highest);
}

BOOST_AUTO_TEST_CASE(condstore_enabled_by_fetch_reports_highestmodseq_once) {
  TestServer server;
  server.mailbox()->open("INBOX")->append(text_message("m1"));
  Client c(server.port());
  c.login();
  c.command("e1", "SELECT INBOX");
  // Plain STORE before any enabling command: no MODSEQ.
  BOOST_TEST(!contains(c.command("e2", "STORE 1 +FLAGS (\\Seen)"), "MODSEQ"));
  auto first = c.command("e3", "FETCH 1 (MODSEQ)");
  BOOST_TEST(contains(first, "* OK [HIGHESTMODSEQ "), first);
  BOOST_TEST(contains(first, "* 1 FETCH (MODSEQ ("));
  BOOST_TEST(!contains(c.command("e4", "FETCH 1 (MODSEQ)"), "HIGHESTMODSEQ"));
  BOOST_TEST(contains(c.command("e5", "STORE 1 -FLAGS (\\Seen)"), " MODSEQ ("));
  BOOST_TEST(contains(c.command("e6", "SELECT INBOX (BOGUS)"), "e6 BAD"));
}

BOOST_AUTO_TEST_SUITE_END()
