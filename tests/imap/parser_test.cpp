// The pure layer: command grammar, sequence sets, mailbox names, dates.
#include <boost/test/unit_test.hpp>

#include "command_parser.hpp"
#include "fetch_attributes.hpp"
#include "mailbox_name.hpp"
#include "response_writer.hpp"
#include "sequence_set.hpp"

using namespace umstore::imap;

BOOST_AUTO_TEST_SUITE(parser)

BOOST_AUTO_TEST_CASE(parses_tag_name_and_arguments_with_literals) {
  std::deque<std::string> storage;
  std::string text = "a1 LOGIN {9}\r\n+15550100 \"p\\\"w\"";
  auto r = parse_command(text, storage);
  BOOST_REQUIRE(r.command);
  BOOST_TEST(r.command->tag == "a1");
  BOOST_TEST(r.command->name == "LOGIN");
  BOOST_REQUIRE_EQUAL(r.command->args.size(), 2u);
  BOOST_TEST(r.command->args[0].text == "+15550100");
  BOOST_TEST(r.command->args[1].text == "p\"w");
}

BOOST_AUTO_TEST_CASE(keeps_fetch_sections_as_one_atom) {
  std::deque<std::string> storage;
  auto r = parse_command("x UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)", storage);
  BOOST_REQUIRE(r.command);
  BOOST_TEST(r.command->name == "UID FETCH");
  BOOST_REQUIRE(r.command->args[1].is_list());
  BOOST_TEST(r.command->args[1].list[1].text == "BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>");
  const auto parsed = parse_fetch_request(r.command->args[1], true);
  const auto* req = std::get_if<FetchRequest>(&parsed);
  BOOST_REQUIRE(req);
  BOOST_TEST(req->items.size() == 3u);  // UID added
  BOOST_TEST(req->items[2].label == "BODY[HEADER.FIELDS (FROM TO)]<0>");
  BOOST_TEST(!req->sets_seen);
  auto quoted = parse_command("y FETCH 1 BODY[HEADER.FIELDS (\"Subject\")]", storage);
  BOOST_REQUIRE(quoted.command);
  const auto parsed2 = parse_fetch_request(quoted.command->args[1], false);
  const auto* req2 = std::get_if<FetchRequest>(&parsed2);
  BOOST_REQUIRE(req2);
  BOOST_TEST(req2->items[0].label == "BODY[HEADER.FIELDS (SUBJECT)]");
  BOOST_TEST(req2->sets_seen);
}

BOOST_AUTO_TEST_CASE(rejects_malformed_commands) {
  std::deque<std::string> storage;
  BOOST_TEST(!parse_command("a1 LOGIN \"unterminated", storage).command);
  BOOST_TEST(!parse_command("a1 FETCH 1 (FLAGS", storage).command);
  BOOST_TEST(!parse_command("a1 APPEND INBOX {10}\r\nshort", storage).command);
  BOOST_TEST(!parse_command("(bad", storage).command);
  BOOST_TEST(!parse_command("a1", storage).command);
}

BOOST_AUTO_TEST_CASE(detects_literals_at_line_end) {
  auto sync = trailing_literal("a APPEND INBOX {310}");
  BOOST_REQUIRE(sync);
  BOOST_TEST(sync->size == 310u);
  BOOST_TEST(sync->synchronizing);
  auto plus = trailing_literal("a LOGIN {5+}");
  BOOST_REQUIRE(plus);
  BOOST_TEST(!plus->synchronizing);
  BOOST_TEST(!trailing_literal("a LOGIN {x}"));
  BOOST_TEST(!trailing_literal("a LOGIN foo"));
}

BOOST_AUTO_TEST_CASE(sequence_sets) {
  auto s = SequenceSet::parse("1:3,7,10:*");
  BOOST_REQUIRE(s);
  BOOST_TEST(s->contains(2, 12));
  BOOST_TEST(!s->contains(5, 12));
  BOOST_TEST(s->contains(12, 12));
  auto rev = SequenceSet::parse("5:*");  // "*" below 5 still names the last message
  BOOST_TEST(rev->contains(3, 3));
  BOOST_TEST(!SequenceSet::parse("0"));
  BOOST_TEST(!SequenceSet::parse("1,,2"));
  BOOST_TEST(!SequenceSet::parse("a:b"));
  std::vector<std::uint32_t> v{1, 2, 3, 5, 7, 8};
  BOOST_TEST(format_uid_set(v) == "1:3,5,7:8");
}

BOOST_AUTO_TEST_CASE(modified_utf7_round_trip) {
  BOOST_TEST(encode_mutf7("Entwürfe") == "Entw&APw-rfe");
  BOOST_TEST(*decode_mutf7("Entw&APw-rfe") == "Entwürfe");
  BOOST_TEST(encode_mutf7("A&B") == "A&-B");
  BOOST_TEST(*decode_mutf7("A&-B") == "A&B");
  BOOST_TEST(encode_mutf7("日本語") == "&ZeVnLIqe-");
  BOOST_TEST(!decode_mutf7("bad&Zz"));
  BOOST_TEST(*mailbox_from_wire("inbox") == "INBOX");
  BOOST_TEST(*mailbox_from_wire("Archive/") == "Archive");
}

BOOST_AUTO_TEST_CASE(list_patterns) {
  BOOST_TEST(matches_list_pattern("*", "Archive/2026"));
  BOOST_TEST(!matches_list_pattern("%", "Archive/2026"));
  BOOST_TEST(matches_list_pattern("Archive/%", "Archive/2026"));
  BOOST_TEST(matches_list_pattern("inbox", "INBOX"));
  BOOST_TEST(!matches_list_pattern("Tr%h", "Sent"));
  BOOST_TEST(matches_list_pattern("%/%", "Archive/2026"));
  BOOST_TEST(!matches_list_pattern("%/%", "Archive/2026/Q1"));
  BOOST_TEST(matches_list_pattern("*%/2026", "A/B/2026"));      // a run holding '*' is '*'
  BOOST_TEST(!matches_list_pattern("%%/2026", "A/B/2026"));     // a run of '%' is '%'
  BOOST_TEST(matches_list_pattern("A*2*6", "Archive/2026"));
  BOOST_TEST(!matches_list_pattern("Archive/2026x", "Archive/2026"));
  // Found by fuzzing: backtracking took minutes on this; now it is a pass per character.
  std::string stars;
  for (int i = 0; i < 4000; ++i) stars += "*a";
  BOOST_TEST(!matches_list_pattern(stars + "b", std::string(5000, 'a')));
  BOOST_TEST(matches_list_pattern(stars, std::string(5000, 'a')));
}

BOOST_AUTO_TEST_CASE(strings_and_dates) {
  std::string out;
  append_string(out, "a \"b\"");
  BOOST_TEST(out == "\"a \\\"b\\\"\"");
  out.clear();
  append_string(out, "two\r\nlines");
  BOOST_TEST(out == "{10}\r\ntwo\r\nlines");
  BOOST_TEST(*parse_search_date("1-Feb-1994") == 760060800);
  BOOST_TEST(*parse_date_time("21-Nov-2026 19:40:01 +0100") == *parse_search_date("21-Nov-2026") + 18 * 3600 + 40 * 60 + 1);
  BOOST_TEST(!parse_date_time("21-Foo-2026 19:40:01 +0100"));
  BOOST_TEST(format_internal_date(0) == "01-Jan-1970 00:00:00 +0000");
}

BOOST_AUTO_TEST_CASE(mod_sequences) {
  BOOST_TEST(*parse_mod_sequence("0") == 0u);
  BOOST_TEST(*parse_mod_sequence("715194045007") == 715194045007u);
  BOOST_TEST(*parse_mod_sequence("9223372036854775807") == 9223372036854775807u);  // 2^63 - 1
  BOOST_TEST(!parse_mod_sequence("9223372036854775808"));
  BOOST_TEST(!parse_mod_sequence("99999999999999999999"));
  BOOST_TEST(!parse_mod_sequence(""));
  BOOST_TEST(!parse_mod_sequence("-1"));
  BOOST_TEST(!parse_mod_sequence("12x"));
}

BOOST_AUTO_TEST_SUITE_END()
