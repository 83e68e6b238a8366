// Full-text search in the PostgreSQL backend (pg_text_search.hpp): the
// text kept per body and the LIKE pattern agree with the scan's comparison
// (ASCII case only, bytes that are not UTF-8 never lost matches), the
// trigram index narrows Folder::text_candidates, a new body's text is
// computed after its append with no search asking (pg_text_filler.hpp),
// bodies without text are filled by the search that needs them, and
// without the index every message is read.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "mailstore/mail_store.hpp"
#include "pg_test_support.hpp"
#include "pg_text_search.hpp"
#include "test_messages.hpp"

using namespace umstore::mailstore;

namespace {

constexpr const char* kNumber = "+15550100";

const std::string& kPlain = kQuickBrownFox;
const std::string kLatin1 = latin1_message("Un caf=E9 cr=E8me, 100% s_r.");
// Undeclared 8-bit bytes (not UTF-8) and a NUL around words still to be found.
const char kRawBytes[] = "From: c@example.com\r\nSubject: raw\r\n\r\nna\xEFve\xFF zebracorn\0end\r\n";
const std::string kRaw(kRawBytes, sizeof kRawBytes - 1);

std::vector<std::uint32_t> uid_list(std::initializer_list<std::uint32_t> uids) { return uids; }

std::vector<std::uint32_t> narrowed(const Folder& folder, std::string_view needle,
                                    std::span<const std::uint32_t> uids) {
  auto found = folder.text_candidates(needle, uids);
  BOOST_REQUIRE_MESSAGE(found, needle << " was not narrowed");
  return found->possible;
}

struct Searchable {
  pg::FreshSchema schema;
  std::unique_ptr<MailStore> store;
  FolderPtr inbox;
  std::vector<std::uint32_t> uids;
  explicit Searchable(const std::string& name, bool text_index = true)
      : schema(name, true), store(open_postgresql_store(pg::dsn_in_schema(name), 4, text_index)),
        inbox(store->user(kNumber)->open("INBOX")) {
    for (const auto* m : {&kPlain, &kLatin1, &kRaw}) uids.push_back(inbox->append(*m));
    // The filler of this store is done with them before a case changes the table.
    if (text_index) wait_for_text();
  }
  // Whether every body got its text from the TextFiller within 10 s, with no search.
  bool wait_for_text() {
    for (int i = 0; i < 200 && bodies_without_text() > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return bodies_without_text() == 0;
  }
  std::vector<std::uint32_t> candidates(std::string_view needle) const { return narrowed(*inbox, needle, uids); }
  std::int64_t bodies_without_text() {
    return schema.c.exec("SELECT count(*) FROM bodies WHERE search_text IS NULL").integer(0, 0);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(pg_text_search)

BOOST_AUTO_TEST_CASE(the_kept_text_is_lower_case_utf8_with_every_word) {
  const std::string text = pg::search_text(kRaw);
  BOOST_TEST(text == "from: c@example.com\r\nsubject: raw\r\n\r\n\x1E"  // the header, then the body
                     "na\uFFFDve\uFFFD zebracorn\uFFFDend\r\n");         // 0xEF, 0xFF and NUL are U+FFFD
  BOOST_TEST(pg::search_text(kLatin1).find("caf\xC3\xA9 cr\xC3\xA8me") != std::string::npos);
  BOOST_TEST(*pg::search_pattern("Caf\xC3\xA9 100% s_r\\") == "%caf\xC3\xA9 100\\% s\\_r\\\\%");
  BOOST_TEST(!pg::search_pattern("na\xEFve"));  // LIKE cannot look for it: the scan does
  BOOST_TEST(!pg::search_pattern(std::string("a\0b", 3)));
  BOOST_TEST(!pg::search_pattern("a\x1F" "b"));  // the text's separators are not text
}

BOOST_AUTO_TEST_CASE(parts_are_kept_apart) {
  const std::string two_parts =
      "Subject: =?utf-8?q?tw=C3=B6?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nalpha\r\n--b\r\nContent-Type: text/plain\r\n\r\nbeta\r\n--b--\r\n";
  const std::string text = pg::search_text(two_parts);
  BOOST_TEST(text.substr(text.find('\x1E')) == "\x1E" "alpha\x1F" "beta");
  BOOST_TEST(text.find("\x1F" "subject: tw\xC3\xB6") < text.find('\x1E'));  // the decoded header: a part of its own
}

BOOST_AUTO_TEST_CASE(the_database_proves_what_the_scan_would_find) {
  Searchable s("text_search_proves");
  const auto found = [&](std::string_view needle) {
    auto candidates = s.inbox->text_candidates(needle, s.uids);
    BOOST_REQUIRE(candidates);
    return *candidates;
  };
  const auto quick = found("QUICK brown");
  BOOST_TEST(quick.in_body == uid_list({s.uids[0]}));
  BOOST_TEST(quick.in_header.empty());
  const auto subject = found("subject: plain");  // only in the header: a BODY search does not match it
  BOOST_TEST(subject.possible == uid_list({s.uids[0]}));
  BOOST_TEST(subject.in_header == uid_list({s.uids[0]}));
  BOOST_TEST(subject.in_body.empty());
  BOOST_TEST(found("example.com").in_header == s.uids);
  BOOST_TEST(found("example.com").in_body.empty());
  BOOST_TEST(found("zebracorn").in_body == uid_list({s.uids[2]}));
  BOOST_TEST(found("ve zebracorn").possible.empty());  // 0xFF stood between them
  // U+FFFD in the needle may have met a replaced byte: a candidate, read to decide.
  const auto replaced = found("\uFFFD zebracorn");
  BOOST_TEST(replaced.possible == uid_list({s.uids[2]}));
  BOOST_TEST(replaced.in_body.empty());
  BOOST_TEST(found("").in_body.empty());  // a message with no text part has no body to match it
}

BOOST_AUTO_TEST_CASE(the_index_narrows_the_candidates) {
  Searchable s("text_search_narrows");
  BOOST_TEST(s.bodies_without_text() == 0);
  BOOST_TEST(s.candidates("QUICK brown") == uid_list({s.uids[0]}));
  BOOST_TEST(s.candidates("CAFÉ") == uid_list({}));  // only ASCII letters match without case
  BOOST_TEST(s.candidates("café crème") == uid_list({s.uids[1]}));
  BOOST_TEST(s.candidates("100% s_r") == uid_list({s.uids[1]}));
  BOOST_TEST(s.candidates("zebracorn") == uid_list({s.uids[2]}));
  BOOST_TEST(s.candidates("ox") == uid_list({s.uids[0]}));  // short strings narrow too
  BOOST_TEST(s.candidates("example.com") == s.uids);
  BOOST_TEST(s.candidates("absent").empty());
  BOOST_TEST(narrowed(*s.inbox, "zebracorn", uid_list({s.uids[0], s.uids[1]})).empty());  // only those asked about
  BOOST_TEST(!s.inbox->text_candidates("na\xEFve", s.uids));

  s.inbox->change_flags(uid_list({s.uids[2]}), FlagChange::Add, kDeleted);
  s.inbox->expunge();
  BOOST_TEST(s.candidates("zebracorn").empty());
}

BOOST_AUTO_TEST_CASE(a_new_body_gets_its_text_after_the_append_without_a_search) {
  Searchable s("text_search_after_append");
  const auto before = s.schema.c.exec("SELECT count(*) FROM bodies WHERE search_text IS NOT NULL").integer(0, 0);
  BOOST_TEST(before == 3);
  s.store->deliver(kNumber, "Subject: later\r\n\r\nplatypus\r\n", "INBOX");
  BOOST_TEST(s.wait_for_text());
  const auto kept = s.schema.c.exec("SELECT search_text FROM bodies WHERE search_text LIKE '%platypus%'");
  BOOST_TEST(kept.rows() == 1);
}

BOOST_AUTO_TEST_CASE(bodies_without_text_are_filled_by_the_search) {
  Searchable s("text_search_fills");
  s.schema.c.exec("UPDATE bodies SET search_text = NULL");  // as migration 5 leaves older bodies
  BOOST_TEST(s.candidates("zebracorn") == uid_list({s.uids[2]}));
  BOOST_TEST(s.bodies_without_text() == 0);
  s.schema.c.exec("UPDATE bodies SET search_text = 'stale'");
  BOOST_TEST(s.inbox->rebuild_text_index() == 3u);
  BOOST_TEST(s.candidates("quick") == uid_list({s.uids[0]}));
}

BOOST_AUTO_TEST_CASE(without_the_index_every_message_is_read_until_rebuild_makes_it) {
  Searchable s("text_search_no_index");
  s.schema.c.exec("DROP INDEX bodies_search_text");
  auto store = open_postgresql_store(pg::dsn_in_schema(s.schema.name), 4);
  auto inbox = store->user(kNumber)->open("INBOX");
  BOOST_TEST(!inbox->text_candidates("quick", s.uids));
  inbox->append("Subject: late\r\n\r\nquick again\r\n");  // stored without text
  BOOST_TEST(s.bodies_without_text() == 1);
  BOOST_TEST(inbox->rebuild_text_index() == 4u);
  BOOST_TEST(s.bodies_without_text() == 0);
  BOOST_TEST(narrowed(*inbox, "quick", s.uids) == uid_list({s.uids[0]}));
}

BOOST_AUTO_TEST_CASE(an_index_turned_off_keeps_no_text) {
  Searchable s("text_search_off", false);
  BOOST_TEST(s.bodies_without_text() == 3);
  BOOST_TEST(!s.inbox->text_candidates("quick", s.uids));
}

BOOST_AUTO_TEST_SUITE_END()
