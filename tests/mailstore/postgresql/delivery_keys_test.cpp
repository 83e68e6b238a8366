// Exactly-once local delivery in the PostgreSQL backend: a delivery under a
// key stored before in the mailbox stores nothing and names the first copy,
// even after the user moved it; other mailboxes and other keys are separate.
#include <boost/test/unit_test.hpp>

#include "mailstore/mail_store.hpp"
#include "pg_test_support.hpp"

using namespace umstore::mailstore;

BOOST_AUTO_TEST_SUITE(delivery_keys)

BOOST_AUTO_TEST_CASE(a_key_stored_before_finds_its_copy_instead_of_storing_again) {
  pg::FreshSchema schema{"delivery_keys", true};
  auto store = open_postgresql_store(pg::dsn_in_schema(schema.name));
  BOOST_TEST(store->keeps_delivery_keys());

  const auto first = store->deliver_once("+15550100", "Subject: one\r\n\r\nbody\r\n", "INBOX", "job-1");
  BOOST_TEST(!first.earlier);
  const auto again = store->deliver_once("+15550100", "Subject: one\r\n\r\nbody\r\n", "INBOX", "job-1");
  BOOST_TEST(again.earlier);
  BOOST_TEST(again.uid == first.uid);
  BOOST_TEST(again.folder == "INBOX");
  auto inbox = store->user("+15550100")->open("INBOX");
  BOOST_TEST(inbox->snapshot().size() == 1u);
  BOOST_TEST(store->user("+15550100")->quota().messages == 1u);  // the second attempt charged nothing

  // Moved by its owner: a retry still finds that it was delivered.
  store->user("+15550100")->create("Archive");
  auto archive = store->user("+15550100")->open("Archive");
  const std::uint32_t uids[] = {first.uid};
  inbox->move_to(*archive, uids);
  BOOST_TEST(store->deliver_once("+15550100", "Subject: one\r\n\r\nbody\r\n", "INBOX", "job-1").earlier);
  BOOST_TEST(inbox->snapshot().empty());

  BOOST_TEST(!store->deliver_once("+15550100", "Subject: two\r\n\r\n", "INBOX", "job-2").earlier);
  BOOST_TEST(!store->deliver_once("+15550199", "Subject: one\r\n\r\nbody\r\n", "INBOX", "job-1").earlier);
}

BOOST_AUTO_TEST_SUITE_END()
