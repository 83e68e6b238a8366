// The metadata the PostgreSQL backend keeps per message
// (messages.imap_metadata, Folder::metadata): written by the append, and
// computed once for messages stored before migration 8 left it NULL.
#include <boost/test/unit_test.hpp>

#include "mailstore/mail_store.hpp"
#include "pg_test_support.hpp"
#include "test_messages.hpp"

using namespace umstore::mailstore;

BOOST_AUTO_TEST_SUITE(pg_metadata)

BOOST_AUTO_TEST_CASE(the_append_stores_it_and_older_messages_get_it_on_first_read) {
  pg::FreshSchema schema("metadata_kept", true);
  const auto store = open_postgresql_store(pg::dsn_in_schema(schema.name), 4);
  const auto inbox = store->user("+15550100")->open("INBOX");
  const std::uint32_t uid = inbox->append(kVoiceMultipart);
  const auto without = [&] {
    return schema.c.exec("SELECT count(*) FROM messages WHERE imap_metadata IS NULL").integer(0, 0);
  };
  BOOST_TEST(without() == 0);

  schema.c.exec("UPDATE messages SET imap_metadata = NULL");  // as migration 8 leaves older messages
  const auto read = inbox->metadata(std::vector<std::uint32_t>{uid});
  BOOST_REQUIRE_EQUAL(read.size(), 1u);
  const MessageMetadata expected = compute_metadata(kVoiceMultipart);
  BOOST_TEST(read[0].second.header == expected.header);
  BOOST_TEST(read[0].second.body_structure == expected.body_structure);
  BOOST_TEST(without() == 0);  // kept from then on
}

BOOST_AUTO_TEST_SUITE_END()
