#include <boost/test/unit_test.hpp>

#include "mailstore/folder.hpp"
#include "mailstore/folder_name.hpp"

using namespace umstore::mailstore;

BOOST_AUTO_TEST_SUITE(folder_name)

BOOST_AUTO_TEST_CASE(refuses_names_that_could_escape_or_are_malformed) {
  using namespace std::string_literals;
  for (const std::string& bad : {"../x"s, "/abs"s, "a//b"s, "a/"s, ""s, "."s, ".."s, "a/../b"s, "a/./b"s,
                                "a\0b"s, "tab\there"s, "new\nline"s, "\x7f"s, "\xff\xfe"s, "\xc0\xaf"s,
                                std::string(300, 'x')}) {
    BOOST_CHECK_THROW(canonical_folder_name(bad), InvalidFolderName);
  }
}

BOOST_AUTO_TEST_CASE(inbox_is_case_insensitive) {
  BOOST_TEST(canonical_folder_name("inbox") == "INBOX");
  BOOST_TEST(canonical_folder_name("Inbox/Sub") == "INBOX/Sub");
  BOOST_TEST(canonical_folder_name("Inboxes") == "Inboxes");
  BOOST_TEST(canonical_folder_name("Archive/inbox") == "Archive/inbox");
}

BOOST_AUTO_TEST_CASE(directory_names_are_safe_and_round_trip) {
  for (const std::string name : {"INBOX", "Archive/2025", "a.b", "..x", "Entwürfe", "日本語/メール", "100%", "a b",
                                 "%2E", "x:y", "*", "Sent Items/.hidden"}) {
    const std::string canonical = canonical_folder_name(name);
    const std::string dir = folder_directory_name(canonical);
    BOOST_TEST(dir.find('/') == std::string::npos);
    BOOST_TEST(dir.front() != '.');
    BOOST_TEST(dir != "..");
    const auto back = folder_name_from_directory(dir);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(*back == canonical);
  }
  BOOST_TEST(folder_directory_name("Archive/2025") == "Archive.2025");
  BOOST_TEST(folder_directory_name("a.b") == "a%2Eb");
  BOOST_TEST(folder_directory_name("Entwürfe") == "Entw%C3%BCrfe");
}

BOOST_AUTO_TEST_CASE(distinct_names_map_to_distinct_directories) {
  BOOST_TEST(folder_directory_name("a/b") != folder_directory_name("a.b"));
  BOOST_TEST(folder_directory_name("a%2Eb") != folder_directory_name("a.b"));
}

BOOST_AUTO_TEST_CASE(foreign_directory_names_are_not_folders) {
  for (const char* dir : {".subscriptions", ".deleted.x", "a%2e", "a%2", "a%41", "x..y", "a%2Fb", "tmp:x"})
    BOOST_TEST(!folder_name_from_directory(dir).has_value(), dir);
}

BOOST_AUTO_TEST_SUITE_END()
