// QRESYNC (RFC 7162 §3.2) when the store no longer knows which messages were
// expunged since the client's mod-sequence (FolderChanges::expunged_complete
// false): the server reports every UID asked about that the folder lacks,
// narrowed by the client's sequence-match data. The exact path, with the
// error paths, is tests/imap/scripts/qresync.imap.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>

#include "test_server.hpp"

using namespace umstore::imap::test;
namespace ms = umstore::mailstore;

BOOST_AUTO_TEST_SUITE(qresync)

BOOST_AUTO_TEST_CASE(forgotten_expunges_are_answered_from_the_uids_asked_about) {
  TestServer server;
  auto inbox = server.mailbox()->open("INBOX");
  for (int i = 1; i <= 6; ++i) inbox->append(text_message("message " + std::to_string(i)));
  const std::string uid_validity = std::to_string(inbox->uid_validity());
  const std::string old_modseq = std::to_string(inbox->status().highest_modseq);
  const std::uint32_t gone[] = {2, 5, 6};
  inbox->change_flags(gone, ms::FlagChange::Add, ms::kDeleted);
  inbox->expunge();
  // Enough flag changes on UID 1 that the Maildir UID list is compacted,
  // which forgets the expunges written before.
  const std::uint32_t one[] = {1};
  for (int i = 0; i < 1100; ++i)
    inbox->change_flags(one, i % 2 ? ms::FlagChange::Remove : ms::FlagChange::Add, ms::kFlagged);
  BOOST_REQUIRE(!inbox->changes_since(std::stoull(old_modseq)).expunged_complete);

  Client c(server.port());
  c.login();
  BOOST_TEST(contains(c.command("e", "ENABLE QRESYNC"), "* ENABLED QRESYNC\r\n"));
  const std::string prefix = "SELECT INBOX (QRESYNC (" + uid_validity + " " + old_modseq;
  // Known UIDs 1:6, and by default 1:UIDNEXT-1, which reaches past the last message left.
  for (const std::string known : {" 1:6", ""}) {
    const auto select = c.command("s", prefix + known + "))");
    BOOST_TEST(contains(select, "* VANISHED (EARLIER) 2,5:6\r\n"), select);
    BOOST_TEST(contains(select, "* 1 FETCH (UID 1 FLAGS ("), select);  // changed since
    BOOST_TEST(!contains(select, "* 2 FETCH"), select);
  }
  // Message 2 is UID 3 for the client as here: it knows of every expunge up to UID 3.
  auto select = c.command("s2", prefix + " 1:6 (1:2 1,3)))");
  BOOST_TEST(contains(select, "* VANISHED (EARLIER) 5:6\r\n"), select);
  // A pair that no longer holds (message 3 is UID 4 now) ends the agreement there.
  select = c.command("s3", prefix + " 1:6 (2:3 3,5)))");
  BOOST_TEST(contains(select, "* VANISHED (EARLIER) 5:6\r\n"), select);
  // A first pair that does not hold narrows nothing, whatever follows.
  select = c.command("s4", prefix + " 1:6 (1:3 2:4)))");
  BOOST_TEST(contains(select, "* VANISHED (EARLIER) 2,5:6\r\n"), select);

  const auto fetch = c.command("f", "UID FETCH 3:* (FLAGS) (CHANGEDSINCE " + old_modseq + " VANISHED)");
  BOOST_TEST(contains(fetch, "* VANISHED (EARLIER) 5:6\r\n"), fetch);
  BOOST_TEST(contains(fetch, "f OK"), fetch);
}

BOOST_AUTO_TEST_SUITE_END()
