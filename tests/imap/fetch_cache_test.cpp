// FetchCache: shared answers per (folder, UIDVALIDITY, UID), one byte bound
// for everything, least recently used out first.
#include <boost/test/unit_test.hpp>

#include "fetch_cache.hpp"
#include "mailstore/mail_store.hpp"
#include "../mailstore/temp_dir.hpp"

using namespace umstore;

namespace {

imap::CachedMessagePtr entry(std::size_t header_bytes, char fill = 'h') {
  auto e = std::make_shared<mailstore::MessageMetadata>();
  e->header.assign(header_bytes, fill);
  return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fetch_cache)

BOOST_AUTO_TEST_CASE(entries_are_per_folder_and_uidvalidity) {
  TempDir dir;
  auto store = mailstore::open_maildir_store(dir.path());
  auto user = store->user("+15550100");
  auto inbox = user->open("INBOX");
  auto trash = user->open("Trash");
  imap::FetchCache cache(1 << 20);
  cache.store(*inbox, 7, 1, entry(100, 'a'));
  BOOST_REQUIRE(cache.find(*inbox, 7, 1));
  BOOST_TEST(cache.find(*inbox, 7, 1)->header == std::string(100, 'a'));
  BOOST_TEST(!cache.find(*trash, 7, 1));  // another folder's UID 1
  BOOST_TEST(!cache.find(*inbox, 8, 1));  // the folder was recreated: dropped
  BOOST_TEST(!cache.find(*inbox, 7, 1));
  BOOST_TEST(cache.size_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(the_byte_bound_evicts_the_least_recently_used) {
  TempDir dir;
  auto store = mailstore::open_maildir_store(dir.path());
  auto inbox = store->user("+15550100")->open("INBOX");
  const std::size_t one = [&] {
    imap::FetchCache sizing(1 << 20);
    sizing.store(*inbox, 1, 1, entry(1000));
    return sizing.size_bytes();
  }();
  imap::FetchCache cache(one * 4 + 100);  // room for four, and a slightly fuller one
  for (std::uint32_t uid = 1; uid <= 4; ++uid) cache.store(*inbox, 1, uid, entry(1000));
  BOOST_TEST(cache.find(*inbox, 1, 1));  // now the most recent
  cache.store(*inbox, 1, 5, entry(1000));
  BOOST_TEST(!cache.find(*inbox, 1, 2));  // the least recent went
  for (std::uint32_t uid : {1u, 3u, 4u, 5u}) BOOST_TEST(cache.find(*inbox, 1, uid));
  BOOST_TEST(cache.size_bytes() == one * 4);
  cache.store(*inbox, 1, 6, entry(100000));  // larger than a quarter of the bound: not kept
  BOOST_TEST(!cache.find(*inbox, 1, 6));
  cache.forget(*inbox, 3);  // an expunged message
  BOOST_TEST(!cache.find(*inbox, 1, 3));
  // An entry stored again replaces the first without counting twice.
  BOOST_REQUIRE(cache.find(*inbox, 1, 4));
  auto fuller = std::make_shared<mailstore::MessageMetadata>(*cache.find(*inbox, 1, 4));
  fuller->body_structure = "(\"TEXT\" \"PLAIN\")";
  cache.store(*inbox, 1, 4, fuller);
  BOOST_TEST(cache.find(*inbox, 1, 4)->body_structure == fuller->body_structure);
  BOOST_TEST(cache.size_bytes() == 3 * one + fuller->body_structure.size());  // 1, 5 and the fuller 4
}

BOOST_AUTO_TEST_SUITE_END()
